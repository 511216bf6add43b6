// Vietnamese by default (with diacritics), English on request; the choice is kept in localStorage.

const STRINGS = {
  vi: {
    app_title: "Trung tâm Giám sát, Điều hành tỉnh Cà Mau",
    app_short: "IOC Cà Mau",
    login_title: "Đăng nhập",
    username: "Tên đăng nhập",
    password: "Mật khẩu",
    sign_in: "Đăng nhập",
    signing_in: "Đang đăng nhập…",
    bad_credentials: "Sai tên đăng nhập hoặc mật khẩu",
    session_expired: "Phiên làm việc đã hết hạn, vui lòng đăng nhập lại",
    login_failed: "Không đăng nhập được",
    logout: "Đăng xuất",
    lang_switch: "English",
    live: "Trực tuyến",
    offline: "Mất kết nối",
    connecting: "Đang kết nối…",
    layer_alerts: "Cảnh báo",
    layer_incidents: "Sự cố",
    layer_water: "Mực nước",
    layer_salinity: "Độ mặn",
    layer_devices: "Thiết bị",
    layer_ontime: "Hồ sơ đúng hạn",
    legend_alerts: "Cảnh báo đang hoạt động",
    legend_incidents: "Sự cố chưa xử lý",
    legend_water: "Mực nước cao nhất (cm)",
    legend_salinity: "Độ mặn cao nhất (‰)",
    legend_devices: "Thiết bị trực tuyến (%)",
    legend_ontime: "Tỷ lệ hồ sơ đúng hạn (%)",
    no_data: "Không có dữ liệu",
    none: "Không có",
    alerts_title: "Cảnh báo đang hoạt động",
    incidents_title: "Sự cố đang xử lý",
    kpi_today: "Hồ sơ tiếp nhận hôm nay",
    kpi_ontime: "Tỷ lệ giải quyết đúng hạn",
    kpi_overdue: "Hồ sơ quá hạn",
    devices_title: "Tình trạng thiết bị",
    devices_total: "Tổng số",
    devices_online: "Trực tuyến",
    devices_stale: "Mất tín hiệu",
    acknowledge: "Xác nhận",
    acknowledged: "Đã xác nhận",
    acknowledged_by: "Đã xác nhận bởi",
    no_alerts: "Không có cảnh báo",
    no_incidents: "Không có sự cố",
    sev_critical: "Nghiêm trọng",
    sev_major: "Cao",
    sev_minor: "Trung bình",
    sev_info: "Thông tin",
    st_new: "Mới",
    st_assigned: "Đã giao",
    st_in_progress: "Đang xử lý",
    st_resolved: "Đã xử lý",
    st_closed: "Đã đóng",
    to_assigned: "Giao xử lý",
    to_in_progress: "Bắt đầu xử lý",
    to_resolved: "Hoàn thành",
    to_closed: "Đóng",
    overdue: "Quá hạn",
    reports: "lượt báo",
    boundary_set: "Bộ ranh giới",
    units_ward: "xã/phường",
    units_district: "huyện/thành phố",
    window: "Khoảng thời gian",
    updated: "Cập nhật",
    summary_title: "Tổng hợp cho lãnh đạo",
    operator_screen: "Màn hình điều hành",
    summary_link: "Tổng hợp",
    scorecard_link: "Bộ chỉ số 766",
    from: "Từ ngày",
    to: "Đến ngày",
    level: "Cấp",
    level_ward: "Xã/phường",
    level_district: "Huyện/thành phố",
    set_in_force: "Bộ đang có hiệu lực",
    apply: "Xem",
    today: "Hôm nay",
    last_7: "7 ngày",
    last_30: "30 ngày",
    daily_brief: "Bản tin ngày (PDF)",
    brief_date: "Ngày bản tin",
    col_name: "Đơn vị",
    col_district: "Huyện",
    col_devices: "Thiết bị (trực tuyến/tổng)",
    col_alerts: "Cảnh báo",
    col_incidents: "Sự cố chưa xử lý",
    col_water: "Mực nước cao nhất (cm)",
    col_salinity: "Độ mặn cao nhất (‰)",
    col_rain: "Lượng mưa (mm)",
    col_ontime: "Đúng hạn",
    kpi_table: "Chỉ số dịch vụ công",
    col_received: "Tiếp nhận",
    col_online_share: "Trực tuyến",
    col_resolved: "Đã giải quyết",
    col_on_time_rate: "Đúng hạn",
    col_overdue: "Quá hạn",
    map_table: "Bản đồ và số liệu theo đơn vị",
    loading: "Đang tải…",
    error: "Lỗi",
    total: "Tổng",
  },
  en: {
    app_title: "Cà Mau Intelligent Operations Center",
    app_short: "Cà Mau IOC",
    login_title: "Sign in",
    username: "Username",
    password: "Password",
    sign_in: "Sign in",
    signing_in: "Signing in…",
    bad_credentials: "Wrong username or password",
    session_expired: "Your session has expired, please sign in again",
    login_failed: "Could not sign in",
    logout: "Sign out",
    lang_switch: "Tiếng Việt",
    live: "Live",
    offline: "Disconnected",
    connecting: "Connecting…",
    layer_alerts: "Alerts",
    layer_incidents: "Incidents",
    layer_water: "Water level",
    layer_salinity: "Salinity",
    layer_devices: "Devices",
    layer_ontime: "On-time dossiers",
    legend_alerts: "Active alerts",
    legend_incidents: "Open incidents",
    legend_water: "Highest water level (cm)",
    legend_salinity: "Highest salinity (‰)",
    legend_devices: "Devices online (%)",
    legend_ontime: "Dossiers resolved on time (%)",
    no_data: "No data",
    none: "None",
    alerts_title: "Active alerts",
    incidents_title: "Open incidents",
    kpi_today: "Dossiers received today",
    kpi_ontime: "Resolved on time",
    kpi_overdue: "Overdue dossiers",
    devices_title: "Device health",
    devices_total: "Total",
    devices_online: "Online",
    devices_stale: "Stale",
    acknowledge: "Acknowledge",
    acknowledged: "Acknowledged",
    acknowledged_by: "Acknowledged by",
    no_alerts: "No active alerts",
    no_incidents: "No open incidents",
    sev_critical: "Critical",
    sev_major: "Major",
    sev_minor: "Minor",
    sev_info: "Info",
    st_new: "New",
    st_assigned: "Assigned",
    st_in_progress: "In progress",
    st_resolved: "Resolved",
    st_closed: "Closed",
    to_assigned: "Assign",
    to_in_progress: "Start work",
    to_resolved: "Resolve",
    to_closed: "Close",
    overdue: "Overdue",
    reports: "reports",
    boundary_set: "Boundary set",
    units_ward: "wards",
    units_district: "districts",
    window: "Window",
    updated: "Updated",
    summary_title: "Leader summary",
    operator_screen: "Operator screen",
    summary_link: "Summary",
    scorecard_link: "766 index",
    from: "From",
    to: "To",
    level: "Level",
    level_ward: "Ward",
    level_district: "District",
    set_in_force: "Set in force",
    apply: "Show",
    today: "Today",
    last_7: "7 days",
    last_30: "30 days",
    daily_brief: "Daily brief (PDF)",
    brief_date: "Brief date",
    col_name: "Unit",
    col_district: "District",
    col_devices: "Devices (online/total)",
    col_alerts: "Alerts",
    col_incidents: "Open incidents",
    col_water: "Max water level (cm)",
    col_salinity: "Max salinity (‰)",
    col_rain: "Rain (mm)",
    col_ontime: "On time",
    kpi_table: "Public-service KPIs",
    col_received: "Received",
    col_online_share: "Online",
    col_resolved: "Resolved",
    col_on_time_rate: "On time",
    col_overdue: "Overdue",
    map_table: "Map and figures by unit",
    loading: "Loading…",
    error: "Error",
    total: "Total",
  },
};

/** More strings (a screen's own), merged into both languages. */
export function addStrings(extra) {
  for (const lang of Object.keys(STRINGS)) Object.assign(STRINGS[lang], extra[lang] || {});
}

const listeners = new Set();
let lang = localStorage.getItem("ops.lang") === "en" ? "en" : "vi";

export function getLang() {
  return lang;
}

export function t(key) {
  return STRINGS[lang][key] ?? STRINGS.vi[key] ?? key;
}

/** Fill every element carrying data-i18n (text) or data-i18n-placeholder. */
export function applyStatic(root = document) {
  document.documentElement.lang = lang;
  for (const e of root.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  for (const e of root.querySelectorAll("[data-i18n-placeholder]")) e.placeholder = t(e.dataset.i18nPlaceholder);
}

export function setLang(next) {
  lang = next === "en" ? "en" : "vi";
  localStorage.setItem("ops.lang", lang);
  applyStatic();
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.add(fn);
}

export function toggleLang() {
  setLang(lang === "vi" ? "en" : "vi");
}

/** Numbers and times in the chosen language, in the province's time zone. */
export function fmtNumber(v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  return new Intl.NumberFormat(lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: digits }).format(v);
}

export function fmtPercent(v) {
  if (v === null || v === undefined) return "–";
  return `${fmtNumber(v * 100, 1)} %`;
}

export function fmtTime(iso, withDate = false) {
  if (!iso) return "";
  const opts = { timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit", hour12: false };
  if (withDate) Object.assign(opts, { day: "2-digit", month: "2-digit" });
  return new Intl.DateTimeFormat(lang === "vi" ? "vi-VN" : "en-GB", opts).format(new Date(iso));
}
