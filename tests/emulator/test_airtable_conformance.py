"""The emulated Airtable API answers in the shapes of the real payloads in tests/fixtures.

Each test builds in the emulator the same kind of object a fixture recorded
and compares the emulator's answer with the fixture's structure: the same
keys, and the same JSON value types per field type (see
:func:`assert_same_shape`), plus exact error types, statuses and messages.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadsync.emulator import Emulator, Fault, FrozenClock, Limits
from leadsync.emulator.airtable import AirtableService

# ---------------------------------------------------------------------------
# The structural comparator


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def assert_same_shape(ours: Any, theirs: Any, path: str = "$") -> None:
    """Same JSON types; objects with the same keys; array items shaped like theirs
    (item by item when both arrays have the same length, else like their first)."""
    assert json_type(ours) == json_type(theirs), f"{path}: {ours!r} vs {theirs!r}"
    if isinstance(theirs, dict):
        assert set(ours) == set(theirs), f"{path}: keys differ by {set(ours) ^ set(theirs)}"
        for key, value in theirs.items():
            assert_same_shape(ours[key], value, f"{path}.{key}")
    elif isinstance(theirs, list):
        assert ours, f"{path}: empty where the real payload has items"
        pairs = zip(ours, theirs if len(ours) == len(theirs) else [theirs[0]] * len(ours),
                    strict=True)
        for i, (item, model) in enumerate(pairs):
            assert_same_shape(item, model, f"{path}[{i}]")


def test_the_comparator_catches_differences() -> None:
    assert_same_shape({"a": [1, 2], "b": {"c": "x"}}, {"a": [3], "b": {"c": "y"}})
    for ours, theirs in [({"a": 1}, {"a": "1"}), ({"a": 1}, {"a": 1, "b": 2}),
                         ({"a": [1, "x"]}, {"a": [1]}), ({"a": []}, {"a": [1]}),
                         ({"a": True}, {"a": 1}), ([{"id": 1}], [{"id": 1, "name": "x"}])]:
        with pytest.raises(AssertionError):
            assert_same_shape(ours, theirs)


# ---------------------------------------------------------------------------
# Helpers


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=7, limits=Limits.unlimited(), clock=FrozenClock()) as emulator:
        yield emulator


def call(emu: Emulator, method: str, path: str, *, token: str | None = None,
         **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or emu.airtable_token}"}
    return httpx.request(method, f"{emu.url}{path}", headers=headers, timeout=10, **kwargs)


def png(width: int, height: int) -> bytes:
    """A real (blank) PNG image of the given size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\xff" * (width * 3) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def fixture_table(load_fixture: Callable[[str], Any], name: str) -> dict[str, Any]:
    schema = load_fixture("airtable/base_schema_meta_api.json")
    table: dict[str, Any] = next(t for t in schema["tables"] if t["name"] == name)
    return table


#: How the emulator builds each computed field of the fixture's "All" table.
COMPUTED = {
    "f_button": {"label": "Open URL", "url": "https://www.grouparoo.com"},
    "f_count": {"recordLinkFieldId": "f_multipleRecordLinks"},
    "f_formula": {"formula": "{Name} & {f_autoNumber}"},
    "f_multipleLookupValues": {"recordLinkFieldId": "f_multipleRecordLinks",
                               "fieldIdInLinkedTable": "Impressions"},
    "f_rollup": {"recordLinkFieldId": "f_multipleRecordLinks",
                 "fieldIdInLinkedTable": "Impressions", "formula": "AVERAGE(values)"},
}
DEPENDENT = ("count", "multipleLookupValues", "rollup", "formula")
AS_WRITTEN = {"singleLineText", "multilineText", "richText", "email", "url", "phoneNumber",
              "number", "percent", "currency", "rating", "duration", "checkbox", "singleSelect",
              "multipleSelects", "date", "dateTime", "barcode"}


def build_all_table(at: AirtableService, base_id: str,
                    spec: dict[str, Any]) -> tuple[str, str]:
    """The fixture's "All" table (one field of every type), linked to a "Results" table."""
    results = at.create_table(base_id, "Results", [
        {"name": "Name", "type": "singleLineText"},
        {"name": "Impressions", "type": "number", "options": {"precision": 0}},
    ])
    first, *rest = spec["fields"]
    table = at.create_table(base_id, "All", [{"name": first["name"], "type": first["type"]}])
    for kind_pass in (False, True):
        for f in rest:
            if (f["type"] in DEPENDENT) != kind_pass:
                continue
            options = dict(f.get("options", {}))
            if f["type"] == "multipleRecordLinks":
                options = {"linkedTableId": results}
            options.update(COMPUTED.get(f["name"], {}))
            at.add_field(base_id, table, {"name": f["name"], "type": f["type"],
                                          "options": options})
    return table, results


def fill_like(emu: Emulator, base_id: str, table: str, results: str,
              records: list[dict[str, Any]], types: dict[str, str]) -> list[str]:
    """Records holding the same kinds of values, in the same cells, as ``records``."""
    at = emu.airtable
    users: dict[str, str] = {}

    def user(obj: dict[str, str]) -> dict[str, str]:
        if obj["email"] not in users:
            users[obj["email"]] = at.add_user(obj["name"], obj["email"])
        return {"id": users[obj["email"]]}

    ids = []
    for record in records:
        fields: dict[str, Any] = {}
        for name, value in record["fields"].items():
            kind = types[name]
            if kind in AS_WRITTEN:
                fields[name] = value
            elif kind == "multipleRecordLinks":
                impressions = record["fields"].get("f_multipleLookupValues", [1] * len(value))
                fields[name] = at.insert_records(
                    base_id, results, [{"Name": f"r{n}", "Impressions": n} for n in impressions])
            elif kind == "singleCollaborator":
                fields[name] = user(value)
            elif kind == "multipleCollaborators":
                fields[name] = [user(v) for v in value]
        ids.append(at.insert_records(base_id, table, [fields])[0])
        for name, value in record["fields"].items():
            if types[name] == "multipleAttachments":
                for attachment in value:
                    body = {"contentType": attachment["type"], "filename": attachment["filename"],
                            "file": base64.b64encode(png(attachment["width"],
                                                         attachment["height"])).decode()}
                    answer = call(emu, "POST", f"/v0/{base_id}/{ids[-1]}/{name}/uploadAttachment",
                                  json=body)
                    assert answer.status_code == 200, answer.text
    return ids


# ---------------------------------------------------------------------------
# Records


def test_list_records_has_the_shape_of_every_field_type(
        emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    real = load_fixture("airtable/list_records_all_field_types.json")
    spec = fixture_table(load_fixture, "All")
    types = {f["name"]: f["type"] for f in spec["fields"]}
    at = emu.airtable
    base_id = at.create_base("Conformance")
    table, results = build_all_table(at, base_id, spec)
    fill_like(emu, base_id, table, results, real["records"], types)

    answer = call(emu, "GET", f"/v0/{base_id}/{table}")
    assert answer.status_code == 200
    ours = answer.json()
    assert set(ours) == set(real)  # no offset: one page
    assert len(ours["records"]) == len(real["records"])
    covered: set[str] = set()
    for mine, theirs in zip(ours["records"], real["records"], strict=True):
        assert set(mine) == set(theirs)
        assert json_type(mine["createdTime"]) == "string"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", mine["createdTime"])
        # The recording has no lastModifiedBy values (its field postdates the edits); the
        # create recording shows the field filled in, so ours may have it.
        extra = set(mine["fields"]) - set(theirs["fields"])
        assert extra <= {"f_lastModifiedBy"}, extra
        for name, value in theirs["fields"].items():
            assert name in mine["fields"], name
            assert_same_shape(mine["fields"][name], value, f"{types[name]} {name}")
            covered.add(types[name])
    # Every field type of the recording was compared at least once.
    assert covered == {types[n] for r in real["records"] for n in r["fields"]}
    assert len(covered) >= 30


def test_empty_cells_are_omitted_and_zero_is_not(
        emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    spec = fixture_table(load_fixture, "All")
    at = emu.airtable
    base_id = at.create_base("Conformance")
    table, _ = build_all_table(at, base_id, spec)
    at.insert_records(base_id, table, [{
        "Name": "", "f_singleLineText": "", "f_multipleSelects": [], "f_checkbox": False,
        "f_number": 0, "f_percent": 0,
    }])
    fields = call(emu, "GET", f"/v0/{base_id}/{table}").json()["records"][0]["fields"]
    assert fields["f_number"] == 0
    assert fields["f_percent"] == 0
    assert fields["f_count"] == 0
    for name in ("Name", "f_singleLineText", "f_multipleSelects", "f_checkbox",
                 "f_multipleLookupValues", "f_multipleRecordLinks"):
        assert name not in fields


def test_a_page_with_an_offset_has_the_recorded_shape(
        emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    real = load_fixture("airtable/list_records_page_with_offset.json")
    at = emu.airtable
    base_id = at.create_base("Gym")
    names = list(real["records"][0]["fields"])
    table = at.create_table(base_id, "Sets", [{"name": n, "type": "singleLineText"}
                                              for n in names])
    rows = [dict(real["records"][0]["fields"]), {}, {}, {"rpe": "8"}, {}]
    at.insert_records(base_id, table, rows)
    page = call(emu, "GET", f"/v0/{base_id}/{table}", params={"pageSize": 3}).json()
    assert_same_shape(page["records"][0], real["records"][0])
    assert_same_shape(page["records"][1], real["records"][1])
    assert page["records"][1]["fields"] == {}
    assert set(page) == set(real)
    assert re.fullmatch(r"itr[A-Za-z0-9]{14}/rec[A-Za-z0-9]{14}", page["offset"])
    # As in the recording, the part after "/" is the last record of the page.
    assert page["offset"].split("/")[1] == page["records"][-1]["id"]
    rest = call(emu, "GET", f"/v0/{base_id}/{table}",
                params={"pageSize": 3, "offset": page["offset"]}).json()
    assert "offset" not in rest
    assert len(rest["records"]) == 2


def test_create_answers_like_the_recording_and_normalises_values(
        emu: Emulator, load_fixture: Callable[[str], Any], fixtures_dir: Path) -> None:
    real = load_fixture("airtable/create_records_response.json")
    source = (fixtures_dir / "airtable/create_records_response.source.txt").read_text()
    request = json.loads(re.search(r"^Request body: (.*)$", source, re.M).group(1))  # type: ignore[union-attr]
    spec = fixture_table(load_fixture, "All")
    at = emu.airtable
    base_id = at.create_base("Conformance")
    table, _ = build_all_table(at, base_id, spec)
    answer = call(emu, "POST", f"/v0/{base_id}/{table}", json=request)
    assert answer.status_code == 200, answer.text
    ours = answer.json()
    assert set(ours) == set(real)
    mine, theirs = ours["records"][0], real["records"][0]
    assert set(mine) == set(theirs)
    assert set(mine["fields"]) == set(theirs["fields"])
    for name, value in theirs["fields"].items():
        assert_same_shape(mine["fields"][name], value, name)
    # The recorded normalisation: epoch ms -> ISO, "* bullet" -> "- bullet\n".
    assert mine["fields"]["f_dateTime"] == theirs["fields"]["f_dateTime"]
    assert mine["fields"]["f_richText"] == theirs["fields"]["f_richText"]
    assert mine["fields"]["f_rollup"] == {"specialValue": "NaN"}
    assert mine["fields"]["f_count"] == 0
    assert mine["fields"]["f_formula"] == "John Doe1"
    assert mine["fields"]["f_lastModifiedTime"] == mine["fields"]["f_createdTime"]
    assert mine["fields"]["f_createdTime"] == mine["createdTime"]


def test_delete_answers_like_the_recording(
        emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    real = load_fixture("airtable/delete_records_response.json")
    at = emu.airtable
    base_id = at.create_base("B")
    table = at.create_table(base_id, "T", [{"name": "Name", "type": "singleLineText"}])
    ids = at.insert_records(base_id, table, [{"Name": str(i)} for i in range(4)])
    answer = call(emu, "DELETE", f"/v0/{base_id}/{table}",
                  params=[("records[]", i) for i in ids[:3]])
    assert answer.status_code == 200
    assert_same_shape(answer.json(), real)
    assert [r["id"] for r in answer.json()["records"]] == ids[:3]
    assert all(r["deleted"] is True for r in answer.json()["records"])
    assert [r["id"] for r in at.get_records(base_id, table)] == ids[3:]


def test_upsert_answers_like_the_docs_example(
        emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    real = load_fixture("airtable/upsert_response_official_docs_example.json")
    at = emu.airtable
    base_id = at.create_base("Parks")
    table = at.create_table(base_id, "Parks", [
        {"name": "Name", "type": "singleLineText"}, {"name": "Address", "type": "singleLineText"},
        {"name": "Visited", "type": "checkbox"}])
    existing = at.insert_records(base_id, table, [{"Name": "Twin Peaks"}])[0]
    body = {"performUpsert": {"fieldsToMergeOn": ["Name"]}, "records": [
        {"fields": {"Address": "501 Twin Peaks Blvd", "Name": "Twin Peaks", "Visited": True}},
        {"fields": {"Name": "New Park", "Visited": True}}]}
    answer = call(emu, "PATCH", f"/v0/{base_id}/{table}", json=body)
    assert answer.status_code == 200, answer.text
    ours = answer.json()
    assert_same_shape(ours, real)
    assert ours["updatedRecords"] == [existing]
    assert ours["createdRecords"] == [ours["records"][1]["id"]]
    assert ours["records"][0]["fields"] == real["records"][0]["fields"]
    assert ours["records"][1]["fields"] == real["records"][1]["fields"]


# ---------------------------------------------------------------------------
# Schema


def test_schema_has_the_recorded_shape(emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    spec = fixture_table(load_fixture, "All")
    at = emu.airtable
    base_id = at.create_base("Conformance")
    build_all_table(at, base_id, spec)
    ours = call(emu, "GET", f"/v0/meta/bases/{base_id}/tables").json()
    assert set(ours) == {"tables"}
    table = next(t for t in ours["tables"] if t["name"] == "All")
    assert set(table) == set(spec)
    assert table["primaryFieldId"] == table["fields"][0]["id"]
    assert_same_shape(table["views"], spec["views"])
    assert table["views"][0]["name"] == "Grid view"
    by_name = {f["name"]: f for f in table["fields"]}
    for theirs in spec["fields"]:
        mine = by_name[theirs["name"]]
        assert mine["type"] == theirs["type"]
        assert set(mine) - {"options"} == set(theirs) - {"options"}
        if "options" in theirs:  # the recording shows options for selects and links
            assert_same_shape(mine["options"], theirs["options"], theirs["name"])
    visible = call(emu, "GET", f"/v0/meta/bases/{base_id}/tables",
                   params={"include": "visibleFieldIds"}).json()
    view = next(t for t in visible["tables"] if t["name"] == "All")["views"][0]
    assert view["visibleFieldIds"] == [f["id"] for f in table["fields"]]


def test_schema_built_through_the_api_matches_the_docs_example(
        emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    real = load_fixture("airtable/base_schema_official_docs_example.json")
    apartments, districts = real["tables"]
    base_id = emu.airtable.create_base("Apartment Hunting")
    made = call(emu, "POST", f"/v0/meta/bases/{base_id}/tables", json={
        "name": districts["name"], "fields": [{"name": "Name", "type": "singleLineText"}]})
    assert made.status_code == 200, made.text
    district_id = made.json()["id"]
    made = call(emu, "POST", f"/v0/meta/bases/{base_id}/tables", json={
        "name": apartments["name"], "description": apartments["description"], "fields": [
            {"name": "Name", "type": "singleLineText",
             "description": apartments["fields"][0]["description"]},
            {"name": "Pictures", "type": "multipleAttachments"},
            {"name": "District", "type": "multipleRecordLinks",
             "options": {"linkedTableId": district_id}}]})
    assert made.status_code == 200, made.text
    # The inverse link field was named after the source table, as in the example.
    schema = call(emu, "GET", f"/v0/meta/bases/{base_id}/tables").json()
    inverse = next(f for f in schema["tables"][0]["fields"] if f["name"] == "Apartments")
    renamed = call(emu, "PATCH",
                   f"/v0/meta/bases/{base_id}/tables/{district_id}/fields/{inverse['id']}",
                   json={"description": districts["fields"][1]["description"]})
    assert renamed.status_code == 200, renamed.text
    schema = call(emu, "GET", f"/v0/meta/bases/{base_id}/tables").json()
    ours = {t["name"]: t for t in schema["tables"]}
    for theirs in real["tables"]:
        mine = ours[theirs["name"]]
        assert_same_shape(mine, theirs, theirs["name"])
        assert [f["name"] for f in mine["fields"]] == [f["name"] for f in theirs["fields"]]
        assert [f["type"] for f in mine["fields"]] == [f["type"] for f in theirs["fields"]]
    link = ours["Apartments"]["fields"][2]["options"]
    inverse_options = ours["Districts"]["fields"][1]["options"]
    assert link["inverseLinkFieldId"] == ours["Districts"]["fields"][1]["id"]
    assert inverse_options["inverseLinkFieldId"] == ours["Apartments"]["fields"][2]["id"]
    assert inverse_options["linkedTableId"] == ours["Apartments"]["id"]


def test_list_bases_names_every_base(emu: Emulator) -> None:
    first = emu.airtable.create_base("One")
    second = emu.airtable.create_base("Two")
    answer = call(emu, "GET", "/v0/meta/bases").json()
    assert answer == {"bases": [{"id": first, "name": "One", "permissionLevel": "create"},
                                {"id": second, "name": "Two", "permissionLevel": "create"}]}


# ---------------------------------------------------------------------------
# Errors, one per recorded error payload


def test_401_without_a_valid_token(emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    answer = call(emu, "GET", "/v0/meta/bases", token="patWrong")
    assert answer.status_code == 401
    assert answer.json() == load_fixture("airtable/error_401_authentication_required.json")


def test_403_for_a_base_that_does_not_exist(
        emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    real = load_fixture("airtable/error_403_invalid_permissions_or_model_not_found.json")
    for path in ("/v0/appAAAAAAAAAAAAAA/Table", "/v0/meta/bases/appAAAAAAAAAAAAAA/tables"):
        answer = call(emu, "GET", path)
        assert answer.status_code == 403
        assert answer.json() == real


def test_404_string_form_for_a_path_that_names_nothing(
        emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    real = load_fixture("airtable/error_404_not_found_string_form.json")
    for path in ("/v0/meta/bases/junk/tables", "/v0/no/such/route/here/at/all"):
        answer = call(emu, "GET", path)
        assert answer.status_code == 404
        assert answer.json() == real


def test_404_for_a_deleted_record(emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    at = emu.airtable
    base_id = at.create_base("B")
    table = at.create_table(base_id, "T", [{"name": "Name", "type": "singleLineText"}])
    record = at.insert_records(base_id, table, [{"Name": "x"}])[0]
    assert call(emu, "DELETE", f"/v0/{base_id}/{table}/{record}").json() == {
        "deleted": True, "id": record}
    answer = call(emu, "GET", f"/v0/{base_id}/{table}/{record}")
    assert answer.status_code == 404
    assert answer.json() == load_fixture("airtable/error_404_record_not_found.json")


def test_404_for_an_unknown_table(emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    real = load_fixture("airtable/error_404_table_not_found.json")
    base_id = emu.airtable.create_base("B")
    answer = call(emu, "GET", f"/v0/{base_id}/Unknown%20Table")
    assert answer.status_code == 404
    assert_same_shape(answer.json(), real)
    assert answer.json()["error"]["type"] == "TABLE_NOT_FOUND"
    assert answer.json()["error"]["message"] == real["error"]["message"].replace(
        "app21Qak1T4cGoiP7", base_id)


def test_422_invalid_request(emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    real = load_fixture("airtable/error_422_invalid_request_unknown.json")
    at = emu.airtable
    base_id = at.create_base("B")
    table = at.create_table(base_id, "T", [{"name": "Name", "type": "singleLineText"}])
    for params in ({"pageSize": "500"}, {"sort[0][field]": "Name", "sort[0][direction]": "up"},
                   {"cellFormat": "string"}):
        answer = call(emu, "GET", f"/v0/{base_id}/{table}", params=params)
        assert answer.status_code == 422, params
        assert_same_shape(answer.json(), real)
        assert answer.json()["error"]["type"] == real["error"]["type"]
        assert answer.json()["error"]["message"].startswith(real["error"]["message"])


def test_422_a_batch_writing_a_computed_field_is_rejected_whole(
        emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    real = load_fixture("airtable/error_422_invalid_value_for_column.json")
    spec = fixture_table(load_fixture, "All")
    at = emu.airtable
    base_id = at.create_base("B")
    table, _ = build_all_table(at, base_id, spec)
    # The recorded request: the second of two records writes the autoNumber field.
    body = {"records": [{"fields": {"Name": "Jane"}},
                        {"fields": {"Name": "Someone", "f_autoNumber": 40}}]}
    answer = call(emu, "POST", f"/v0/{base_id}/{table}", json=body)
    assert answer.status_code == 422
    assert answer.json() == real
    assert at.get_records(base_id, table) == []
    again = call(emu, "POST", f"/v0/{base_id}/{table}", json={"records": body["records"][:1]})
    assert again.status_code == 200


def test_422_an_expired_offset(emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    real = load_fixture("airtable/error_422_list_records_iterator_not_available.json")
    at = emu.airtable
    base_id = at.create_base("B")
    table = at.create_table(base_id, "T", [{"name": "Name", "type": "singleLineText"}])
    at.insert_records(base_id, table, [{"Name": str(i)} for i in range(5)])
    path = f"/v0/{base_id}/{table}"
    first = call(emu, "GET", path, params={"pageSize": 2}).json()
    assert isinstance(emu.clock, FrozenClock)
    emu.clock.advance(seconds=emu.limits.airtable_offset_ttl_seconds + 1)
    answer = call(emu, "GET", path, params={"pageSize": 2, "offset": first["offset"]})
    assert answer.status_code == 422
    assert answer.json() == real
    # The fault plan can expire one too, and a made-up offset is just as unavailable.
    second = call(emu, "GET", path, params={"pageSize": 2}).json()
    emu.faults.add(Fault("expire_offset", route="airtable.records.list", limit=1))
    assert call(emu, "GET", path, params={"pageSize": 2, "offset": second["offset"]}
                ).json() == real
    assert call(emu, "GET", path, params={"offset": "itrNope/recNope"}).json() == real


def test_429_when_the_rate_is_exceeded(load_fixture: Callable[[str], Any]) -> None:
    real = load_fixture("airtable/error_429_rate_limit_reached.json")
    limits = Limits(airtable_rps=5, airtable_penalty_seconds=0.5, fractional_retry_after=True)
    # A frozen clock: the bucket refills by the emulator's clock, so however slowly this
    # machine sends the eight requests, no token comes back between them.
    with Emulator(seed=1, limits=limits, clock=FrozenClock()) as emu:
        base_id = emu.airtable.create_base("B")
        statuses = []
        for _ in range(8):
            answer = call(emu, "GET", f"/v0/meta/bases/{base_id}/tables")
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                limited = answer
        assert statuses[:5] == [200] * 5
        assert 429 in statuses
        assert limited.json() == real
        assert statuses == [200] * 5 + [429] * 3  # the penalty refuses the rest too
        assert float(limited.headers["Retry-After"]) == 0.5


def test_503_when_the_server_fails(emu: Emulator, load_fixture: Callable[[str], Any]) -> None:
    emu.faults.add(Fault("error", route="airtable.meta.bases", status=503, limit=1))
    answer = call(emu, "GET", "/v0/meta/bases")
    assert answer.status_code == 503
    assert answer.json() == load_fixture("airtable/error_503_retriable_error.json")
    assert call(emu, "GET", "/v0/meta/bases").status_code == 200
