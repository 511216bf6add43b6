"""The snapshot format as JSON Schema (draft 2020-12), generated from the wire models of every registered kind:
one schema, a ``oneOf`` over kinds discriminated by ``kind``. docs/federation.md carries a copy; a test keeps the
two equal and validates real snapshots against it with the ``jsonschema`` library."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter, create_model

from ops_center.federation.registry import producers
from ops_center.federation.wire import SCHEMA_ID, SCHEMA_VERSION, Envelope, Heartbeat

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def snapshot_schema() -> dict[str, Any]:
    variants = []
    for p in producers().values():
        name = "Snapshot_" + "".join(part.capitalize() for part in p.kind.split("_"))
        variants.append(create_model(name, __base__=Envelope, kind=(Literal[p.kind], ...),  # type: ignore[arg-type]  # a Literal made at runtime
                                     data=(p.data_model, ...)))
    union: Any = Annotated[Union[tuple(variants)], Field(discriminator="kind")]  # noqa: UP007
    schema = TypeAdapter(union).json_schema(ref_template="#/$defs/{model}")
    return {"$schema": DIALECT, "$id": f"urn:{SCHEMA_ID}:{SCHEMA_VERSION}",
            "title": f"ops_center federation snapshot {SCHEMA_VERSION}",
            "description": "One aggregate snapshot a provincial instance sends to the national instance.", **schema}


def heartbeat_schema() -> dict[str, Any]:
    schema = TypeAdapter(Heartbeat).json_schema()
    return {"$schema": DIALECT, "$id": f"urn:{SCHEMA_ID.replace('snapshot', 'heartbeat')}:{SCHEMA_VERSION}",
            **schema}


BEGIN, END = "<!-- schema:snapshot:begin (generated: ops-center federation schema --write docs/federation.md) -->", \
    "<!-- schema:snapshot:end -->"


def doc_block(schema: dict[str, Any]) -> str:
    import json

    return f"{BEGIN}\n```json\n{json.dumps(schema, indent=2, ensure_ascii=False)}\n```\n{END}"


def embedded(text: str) -> dict[str, Any] | None:
    """The schema embedded in a document between the markers, or None."""
    import json

    if BEGIN not in text or END not in text:
        return None
    block = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    parsed: dict[str, Any] = json.loads(block.removeprefix("```json").removesuffix("```"))
    return parsed


def write_into(text: str, schema: dict[str, Any]) -> str:
    if BEGIN not in text or END not in text:
        return text.rstrip("\n") + "\n\n" + doc_block(schema) + "\n"
    head, rest = text.split(BEGIN, 1)
    return head + doc_block(schema) + rest.split(END, 1)[1]
