"""Change a running broker's access control through the dynamic-security plugin's ``$CONTROL`` topic.

The broker admin account (settings) connects over MQTT v5, reads the plugin's clients and roles, and sends the
commands that make them equal to the accounts (``ops_center.broker.dynsec.plan``), in chunks well under the broker's
``max_packet_size``, each answered on ``$CONTROL/dynamic-security/v1/response`` before the next is sent. A change
takes effect when its answer arrives: a deleted client is disconnected by the plugin, a new grant applies to a
connection already open. The plugin saves its state file itself after each change, so a broker restart keeps it.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from typing import Any, Final

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ops_center.broker.accounts import CONTROL_RESPONSE_TOPIC, CONTROL_TOPIC, Account, admin_password
from ops_center.broker.dynsec import State, desired_state, parse_state, plan
from ops_center.settings import Settings

CHUNK: Final = 200
"""Commands per control message (a device's createRole is ~400 bytes; the broker takes packets up to 1 MiB)."""
CONNECT_TIMEOUT_S: Final = 5.0
ANSWER_TIMEOUT_S: Final = 60.0


class ControlError(RuntimeError):
    """The broker was reached but did not accept or carry out the change."""


class BrokerUnreachable(ControlError):
    """Nothing listens at the broker's address (it is not running)."""


class ControlSession:
    """One admin connection; use as a context manager."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"ops-broker-admin-{secrets.token_hex(4)}",
                                  protocol=mqtt.MQTTv5)
        self.client.username_pw_set(settings.mqtt_admin_username, admin_password(settings))
        self._cond = threading.Condition()
        self._connack: Any = None
        self._subacks: dict[int, list[Any]] = {}
        self._answers: dict[str, list[dict[str, Any]]] = {}
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # -- paho callbacks (network thread) -------------------------------------------------------------------------
    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self._cond:
            self._connack = reason
            self._cond.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reasons: list[Any], _p: Any) -> None:
        with self._cond:
            self._subacks[mid] = reasons
            self._cond.notify_all()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            responses = orjson.loads(msg.payload)["responses"]
            key = str(responses[0].get("correlationData", ""))
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
            return
        with self._cond:
            self._answers[key] = responses
            self._cond.notify_all()

    def _wait(self, ready: Any, what: str, timeout: float) -> None:
        with self._cond:
            if not self._cond.wait_for(ready, timeout):
                raise ControlError(f"broker {self.settings.mqtt_host}:{self.settings.mqtt_port}: no {what} within "
                                   f"{timeout:g} s (is the dynamic-security plugin loaded?)")

    # -- session -------------------------------------------------------------------------------------------------
    def __enter__(self) -> ControlSession:
        try:
            self.client.connect(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
        except OSError as exc:  # refused, no such host, timed out: no broker there
            raise BrokerUnreachable(f"broker {self.settings.mqtt_host}:{self.settings.mqtt_port}: {exc}") from exc
        self.client.loop_start()
        try:
            self._wait(lambda: self._connack is not None, "CONNACK", CONNECT_TIMEOUT_S)
            if self._connack.is_failure:
                raise ControlError(f"broker refused the admin account {self.settings.mqtt_admin_username!r}: "
                                   f"{self._connack}")
            _rc, mid = self.client.subscribe(CONTROL_RESPONSE_TOPIC, qos=1)
            self._wait(lambda: mid in self._subacks, "SUBACK", CONNECT_TIMEOUT_S)
            reason = self._subacks[mid or 0][0]
            if reason.is_failure:
                raise ControlError(f"the admin account may not read {CONTROL_RESPONSE_TOPIC}: {reason}")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def call(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send ``commands`` in one message; their answers, in order. ``ControlError`` if any failed."""
        key = secrets.token_hex(8)
        tagged = [{**c, "correlationData": f"{key}:{i}"} for i, c in enumerate(commands)]
        first = f"{key}:0"
        self.client.publish(CONTROL_TOPIC, orjson.dumps({"commands": tagged}), qos=1)
        self._wait(lambda: first in self._answers, "answer on " + CONTROL_RESPONSE_TOPIC, ANSWER_TIMEOUT_S)
        with self._cond:
            answers = self._answers.pop(first)
        failed = [(c["command"], c.get("username") or c.get("rolename"), a["error"])
                  for c, a in zip(commands, answers, strict=False) if a.get("error")]
        if failed:
            raise ControlError(f"dynamic-security refused {len(failed)} of {len(commands)} commands: {failed[:5]}")
        return answers

    def state(self) -> State:
        answers = self.call([{"command": "listClients", "verbose": True, "count": -1},
                             {"command": "listRoles", "verbose": True, "count": -1}])
        return parse_state(answers[0]["data"]["clients"], answers[1]["data"]["roles"])

    def run(self, commands: list[dict[str, Any]]) -> None:
        for start in range(0, len(commands), CHUNK):
            self.call(commands[start:start + CHUNK])


def apply(settings: Settings, accounts: Iterable[Account]) -> int | None:
    """Make the running broker's access control equal to ``accounts``; the number of commands it took, or None when
    no broker listens (then the state file is what it will start from). ``ControlError`` on any other failure."""
    try:
        with ControlSession(settings) as session:
            commands = plan(session.state(), desired_state(accounts))
            session.run(commands)
            return len(commands)
    except BrokerUnreachable:
        return None
