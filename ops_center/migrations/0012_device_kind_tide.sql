-- 'tide' is the kind name the alert rules and the simulator use for tide gauges (0011 named it 'tide_gauge' only).
INSERT INTO device_kinds (code, label_vi, label_en, default_interval_s, metrics)
VALUES ('tide', 'Trạm đo triều', 'Tide gauge', 300, '{water_level_cm}')
ON CONFLICT (code) DO NOTHING;
