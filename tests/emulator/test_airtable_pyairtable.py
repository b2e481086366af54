"""The real pyairtable (>= 3.5) against the emulator over real HTTP."""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pyairtable import Api, Table
from pyairtable import formulas as F
from pyairtable.models.schema import (
    CheckboxFieldSchema,
    MultipleRecordLinksFieldSchema,
    NumberFieldSchema,
    SingleSelectFieldSchema,
)

from leadsync.emulator import Emulator, Fault, FrozenClock, Limits

UTC = dt.UTC
START = dt.datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(seed=5, limits=Limits.unlimited(), clock=FrozenClock(START)) as emulator:
        yield emulator


@pytest.fixture
def api(emu: Emulator) -> Api:
    return Api(emu.airtable_token, endpoint_url=emu.url)


@pytest.fixture
def raw(emu: Emulator) -> Api:
    """No retries: every error surfaces at once."""
    return Api(emu.airtable_token, endpoint_url=emu.url, retry_strategy=False)


def error_type(exc: requests.HTTPError) -> str:
    assert exc.response is not None
    error = exc.response.json()["error"]
    return str(error["type"] if isinstance(error, dict) else error)


def people(emu: Emulator, count: int = 250) -> tuple[str, str, list[str]]:
    """A base with a "People" table of ``count`` records; returns base, table and ids."""
    at = emu.airtable
    base_id = at.create_base("Team")
    table = at.create_table(base_id, "People", [
        {"name": "Name", "type": "singleLineText"},
        {"name": "Age", "type": "number", "options": {"precision": 0}},
        {"name": "Team", "type": "singleSelect",
         "options": {"choices": [{"name": "Core"}, {"name": "Edge"}]}},
        {"name": "Active", "type": "checkbox"},
        {"name": "Joined", "type": "date"},
        {"name": "Code", "type": "autoNumber"},
        {"name": "Edited", "type": "lastModifiedTime"},
    ])
    ids = at.insert_records(base_id, table, [
        {"Name": f"person {i:03d}", "Age": 20 + i % 30, "Team": "Core" if i % 3 else "Edge",
         "Active": i % 2 == 0, "Joined": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"}
        for i in range(count)])
    return base_id, table, ids


# ---------------------------------------------------------------------------
# Reading


def test_all_and_iterate_page_to_the_end(emu: Emulator, api: Api) -> None:
    base_id, table_id, ids = people(emu)
    table = api.table(base_id, table_id)
    records = table.all()
    assert [r["id"] for r in records] == ids  # creation order without a sort
    pages = list(table.iterate(page_size=100))
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [r["id"] for p in pages for r in p] == ids
    assert len(table.all(max_records=120, page_size=50)) == 120
    by_name = api.table(base_id, "People")
    assert by_name.first() == records[0]
    assert by_name.get(ids[7]) == records[7]


def test_offsets_look_like_airtables_and_can_be_asked_again(emu: Emulator, api: Api) -> None:
    base_id, table_id, ids = people(emu, 5)
    url = api.table(base_id, table_id).urls.records
    page = api.request("GET", url, params={"pageSize": 2})
    assert re.fullmatch(r"itr[A-Za-z0-9]{14}/rec[A-Za-z0-9]{14}", page["offset"])
    assert page["offset"].endswith("/" + ids[1])
    second = api.request("GET", url, params={"pageSize": 2, "offset": page["offset"]})
    # A retry of the same request (say, after a lost answer) gets the same page.
    again = api.request("GET", url, params={"pageSize": 2, "offset": page["offset"]})
    assert second == again
    assert [r["id"] for r in second["records"]] == ids[2:4]
    last = api.request("GET", url, params={"pageSize": 2, "offset": second["offset"]})
    assert [r["id"] for r in last["records"]] == ids[4:]
    assert "offset" not in last
    # Records deleted after the list started are skipped, not errors.
    emu.airtable.delete_records(base_id, table_id, [ids[3]])
    third = api.request("GET", url, params={"pageSize": 2, "offset": page["offset"]})
    assert [r["id"] for r in third["records"]] == [ids[2], ids[4]]


def test_fields_sort_and_field_ids(emu: Emulator, api: Api) -> None:
    base_id, table_id, _ = people(emu, 40)
    table = api.table(base_id, table_id)
    records = table.all(fields=["Name", "Age"], sort=["-Age", "Name"])
    assert all(set(r["fields"]) <= {"Name", "Age"} for r in records)
    keys = [(-r["fields"]["Age"], r["fields"]["Name"]) for r in records]
    assert keys == sorted(keys)
    # Single selects sort in choice order (Core before Edge), not alphabetically.
    teams = [r["fields"]["Team"] for r in table.all(sort=["Team"], fields=["Team"])]
    assert teams == sorted(teams, key=["Core", "Edge"].index)
    schema = table.schema()
    first = table.all(use_field_ids=True, max_records=1)[0]
    assert set(first["fields"]) <= {f.id for f in schema.fields}
    assert first["fields"][schema.field("Name").id] == "person 000"
    assert table.get(first["id"], use_field_ids=True)["fields"] == first["fields"]


def test_formulas_from_pyairtable(emu: Emulator, api: Api) -> None:
    at = emu.airtable
    base_id = at.create_base("Quotes")
    table_id = at.create_table(base_id, "People", [
        {"name": "Name", "type": "singleLineText"},
        {"name": "Age", "type": "number", "options": {"precision": 0}}])
    tricky = "O'Brien \"Bob\" \\ {x}"
    at.insert_records(base_id, table_id, [{"Name": tricky, "Age": 30}, {"Name": "Ann", "Age": 20},
                                          {"Name": "Al", "Age": 40}])
    table = api.table(base_id, table_id)
    assert [r["fields"]["Name"] for r in table.all(formula=F.match({"Name": tricky}))] == [tricky]
    older = table.all(formula=F.match({"Age": (">", 25)}), sort=["Age"])
    assert [r["fields"]["Age"] for r in older] == [30, 40]
    either = table.all(formula=F.OR(F.Field("Name").eq("Ann"), F.Field("Age").gte(40)))
    assert {r["fields"]["Name"] for r in either} == {"Ann", "Al"}
    assert table.all(formula="FIND('Bob', {Name})")[0]["fields"]["Name"] == tricky


def test_modified_since_with_last_modified_time(emu: Emulator, api: Api) -> None:
    base_id, table_id, ids = people(emu, 6)
    table = api.table(base_id, table_id)
    assert isinstance(emu.clock, FrozenClock)
    emu.clock.advance(seconds=90)
    cutoff = emu.clock.now()
    table.update(ids[1], {"Age": 99})
    emu.airtable.edit_record(base_id, table_id, ids[4], {"Name": "renamed"})
    table.update(ids[2], {"Age": table.get(ids[2])["fields"]["Age"]})  # same value: no edit
    since = table.all(formula=F.GTE(F.LAST_MODIFIED_TIME(), cutoff))
    assert [r["id"] for r in since] == [ids[1], ids[4]]
    also = table.all(formula=F.IS_AFTER(F.Field("Edited"), cutoff - dt.timedelta(seconds=1)))
    assert [r["id"] for r in also] == [ids[1], ids[4]]
    edited = table.get(ids[1])["fields"]["Edited"]
    assert edited == cutoff.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert table.get(ids[0])["fields"]["Edited"] == table.get(ids[0])["createdTime"]
    created = table.all(formula=F.IS_BEFORE(F.CREATED_TIME(), cutoff))
    assert len(created) == 6


def test_a_very_long_formula_goes_through_post_list_records(emu: Emulator, api: Api) -> None:
    base_id, table_id, ids = people(emu, 30)
    table = api.table(base_id, table_id)
    wanted = ids[::3]
    padding = [F.RECORD_ID().eq(f"rec{i:014d}") for i in range(700)]
    formula = F.OR(*[F.RECORD_ID().eq(i) for i in wanted], *padding)
    assert len(F.to_formula_str(formula)) > 16_000
    methods: list[str] = []
    api.session.hooks["response"].append(
        lambda r, *args, **kwargs: methods.append(str(r.request.method)))
    found = table.all(formula=formula, page_size=4)
    assert [r["id"] for r in found] == wanted
    assert set(methods) == {"POST"}
    assert len(methods) == 3  # paged through POST listRecords
    # sort, fields and field ids travel in the POST body too
    schema = table.schema()
    backwards = table.all(formula=formula, sort=["-Name"], fields=["Name"], use_field_ids=True)
    name_id = schema.field("Name").id
    assert [r["id"] for r in backwards] == wanted[::-1]
    assert all(list(r["fields"]) == [name_id] for r in backwards)
    # The same list sent as a GET is refused, as Airtable refuses URLs of 16,000+ characters.
    too_long = requests.get(table.urls.records, params={"filterByFormula": formula},
                            headers={"Authorization": f"Bearer {emu.airtable_token}"}, timeout=10)
    assert too_long.status_code == 414


def test_views(emu: Emulator, api: Api, raw: Api) -> None:
    base_id, table_id, ids = people(emu, 12)
    table = api.table(base_id, table_id)
    view = table.schema().views[0]
    assert view.name == "Grid view"
    assert [r["id"] for r in table.all(view="Grid view")] == ids
    assert [r["id"] for r in table.all(view=view.id, sort=["-Age"], max_records=2)] == [
        r["id"] for r in table.all(sort=["-Age"], max_records=2)]
    with pytest.raises(requests.HTTPError) as exc:
        raw.table(base_id, table_id).all(view="Nope")
    assert error_type(exc.value) == "VIEW_NAME_NOT_FOUND"


def test_unknown_names_in_list_parameters(emu: Emulator, raw: Api) -> None:
    base_id, table_id, _ = people(emu, 2)
    table = raw.table(base_id, table_id)
    for options, kind in (({"fields": ["Nope"]}, "UNKNOWN_FIELD_NAME"),
                          ({"sort": ["Nope"]}, "UNKNOWN_FIELD_NAME"),
                          ({"formula": "{Nope} = 1"}, "INVALID_FILTER_BY_FORMULA"),
                          ({"formula": "AND({Name}"}, "INVALID_FILTER_BY_FORMULA")):
        with pytest.raises(requests.HTTPError) as exc:
            table.all(**options)
        assert error_type(exc.value) == kind, options
    with pytest.raises(requests.HTTPError) as exc:
        table.all(formula="{Nope} = 1")
    assert exc.value.response is not None
    assert exc.value.response.json()["error"]["message"] == (
        "The formula for filtering records is invalid: Unknown field names: Nope")
    with pytest.raises(requests.HTTPError) as exc:
        raw.table(base_id, "Nope").all()
    assert error_type(exc.value) == "TABLE_NOT_FOUND"
    with pytest.raises(requests.HTTPError) as exc:
        raw.table("appAAAAAAAAAAAAAA", table_id).all()
    assert error_type(exc.value) == "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND"


def test_cell_format_string(emu: Emulator, api: Api, raw: Api) -> None:
    base_id, table_id, _ = people(emu, 2)
    with pytest.raises(requests.HTTPError) as exc:
        raw.table(base_id, table_id).all(cell_format="string")
    assert error_type(exc.value) == "INVALID_REQUEST_UNKNOWN"
    records = api.table(base_id, table_id).all(cell_format="string", time_zone="Europe/Berlin",
                                               user_locale="en-gb")
    assert all(isinstance(v, str) for r in records for v in r["fields"].values())
    assert records[0]["fields"]["Active"] == "checked"


# ---------------------------------------------------------------------------
# Writing


def test_batch_create_update_delete(emu: Emulator, api: Api) -> None:
    base_id, table_id, _ = people(emu, 0)
    table = api.table(base_id, table_id)
    made = table.batch_create([{"Name": f"n{i}", "Age": i} for i in range(25)])
    assert len(made) == 25
    assert [r["fields"]["Code"] for r in made] == list(range(1, 26))
    assert emu.stats.count("airtable.records.create", 200) == 3  # chunks of ten
    updated = table.batch_update([{"id": r["id"], "fields": {"Age": 100}} for r in made[:12]])
    assert {r["fields"]["Age"] for r in updated} == {100}
    replaced = table.batch_update([{"id": made[0]["id"], "fields": {"Team": "Edge"}}],
                                  replace=True)
    assert replaced[0]["fields"] == {"Team": "Edge", "Code": 1,
                                     "Edited": replaced[0]["fields"]["Edited"]}
    deleted = table.batch_delete([r["id"] for r in made[:15]])
    assert all(d["deleted"] for d in deleted)
    assert len(table.all()) == 10
    one = table.create({"Name": "single"})
    assert table.update(one["id"], {"Age": 7})["fields"]["Age"] == 7
    assert table.update(one["id"], {"Age": 8}, replace=True)["fields"].get("Name") is None
    by_id = table.create({"Name": "ids"}, use_field_ids=True)
    assert table.schema().field("Name").id in by_id["fields"]
    assert table.delete(one["id"]) == {"deleted": True, "id": one["id"]}
    with pytest.raises(requests.HTTPError) as exc:
        table.get(one["id"])
    assert error_type(exc.value) == "MODEL_ID_NOT_FOUND"


def test_upsert_updates_one_record_and_creates_another(emu: Emulator, api: Api) -> None:
    base_id, table_id, ids = people(emu, 3)
    table = api.table(base_id, table_id)
    result = table.batch_upsert([
        {"fields": {"Name": "person 001", "Age": 77}},
        {"fields": {"Name": "newcomer", "Age": 18}},
    ], key_fields=["Name"])
    assert result["updatedRecords"] == [ids[1]]
    assert len(result["createdRecords"]) == 1
    assert result["records"][0]["fields"]["Age"] == 77
    assert result["records"][1]["id"] == result["createdRecords"][0]
    assert len(table.all()) == 4
    # Upserting again is idempotent: both now match.
    again = table.batch_upsert([{"fields": {"Name": "newcomer", "Age": 18}}], key_fields=["Name"])
    assert again["createdRecords"] == []
    assert len(table.all()) == 4


def test_upsert_refuses_ambiguous_matches_and_unknown_ids(emu: Emulator, raw: Api) -> None:
    base_id, table_id, _ = people(emu, 0)
    table = raw.table(base_id, table_id)
    table.batch_create([{"Name": "twin"}, {"Name": "twin"}])
    with pytest.raises(requests.HTTPError) as exc:
        table.batch_upsert([{"fields": {"Name": "twin", "Age": 1}}], key_fields=["Name"])
    assert exc.value.response is not None
    assert exc.value.response.status_code == 422
    with pytest.raises(requests.HTTPError) as exc:
        table.batch_upsert([{"id": "recAAAAAAAAAAAAAA", "fields": {"Age": 1}}],
                           key_fields=["Name"])
    assert error_type(exc.value) == "ROW_DOES_NOT_EXIST"
    with pytest.raises(requests.HTTPError) as exc:
        table.batch_upsert([{"fields": {"Active": True}}], key_fields=["Active"])
    assert error_type(exc.value) == "INVALID_REQUEST_UNKNOWN"
    assert len(table.all()) == 2


def test_a_batch_with_one_computed_field_write_is_rejected_whole(emu: Emulator, raw: Api) -> None:
    base_id, table_id, _ = people(emu, 0)
    table = raw.table(base_id, table_id)
    with pytest.raises(requests.HTTPError) as exc:
        table.batch_create([{"Name": "ok"}, {"Name": "bad", "Code": 5}, {"Name": "ok too"}])
    assert exc.value.response is not None
    assert exc.value.response.json() == {"error": {
        "type": "INVALID_VALUE_FOR_COLUMN",
        "message": 'Field "Code" cannot accept a value because the field is computed'}}
    assert table.all() == []


@pytest.mark.parametrize(("fields", "kind", "field_name"), [
    ({"Nope": 1}, "UNKNOWN_FIELD_NAME", "Nope"),
    ({"Age": "twelve"}, "INVALID_VALUE_FOR_COLUMN", "Age"),
    ({"Joined": "2024-01-01T10:00:00.000Z"}, "INVALID_VALUE_FOR_COLUMN", "Joined"),
    ({"Active": "yes"}, "INVALID_VALUE_FOR_COLUMN", "Active"),
    ({"Team": "Brand new"}, "INVALID_MULTIPLE_CHOICE_OPTIONS", "Brand new"),
])
def test_bad_values_are_refused_naming_the_field(emu: Emulator, raw: Api, fields: dict[str, Any],
                                                 kind: str, field_name: str) -> None:
    base_id, table_id, ids = people(emu, 1)
    table = raw.table(base_id, table_id)
    with pytest.raises(requests.HTTPError) as exc:
        table.batch_update([{"id": ids[0], "fields": {"Name": "changed"}},
                            {"id": ids[0], "fields": fields}])
    assert error_type(exc.value) == kind
    assert exc.value.response is not None
    assert field_name in exc.value.response.json()["error"]["message"]
    assert table.get(ids[0])["fields"]["Name"] == "person 000"


def test_typecast_converts_strings_and_adds_select_options(emu: Emulator, api: Api) -> None:
    base_id, table_id, _ = people(emu, 0)
    table = api.table(base_id, table_id)
    made = table.create({"Name": 12, "Age": "1,234", "Team": "Brand new", "Active": "yes",
                         "Joined": "2024-01-01T10:00:00.000Z"}, typecast=True)
    assert made["fields"] == {**made["fields"], "Name": "12", "Age": 1234, "Team": "Brand new",
                              "Active": True, "Joined": "2024-01-01"}
    choices = [c.name for c in table.schema(force=True).field("Team").options.choices]  # type: ignore[union-attr]
    assert choices == ["Core", "Edge", "Brand new"]


def test_too_many_records_in_one_request(emu: Emulator) -> None:
    base_id, table_id, _ = people(emu, 0)
    answer = requests.post(f"{emu.url}/v0/{base_id}/{table_id}", timeout=10,
                           headers={"Authorization": f"Bearer {emu.airtable_token}"},
                           json={"records": [{"fields": {"Name": str(i)}} for i in range(11)]})
    assert answer.status_code == 422
    assert answer.json()["error"] == {
        "type": "INVALID_RECORDS",
        "message": "A maximum of 10 records can be created per request but you have provided 11."}


def test_links_collaborators_and_the_inverse_field(emu: Emulator, api: Api) -> None:
    at = emu.airtable
    base_id = at.create_base("Links")
    people_id = at.create_table(base_id, "People", [{"name": "Name", "type": "singleLineText"}])
    notes_id = at.create_table(base_id, "Notes", [
        {"name": "Title", "type": "singleLineText"},
        {"name": "About", "type": "multipleRecordLinks", "options": {"linkedTableId": people_id}},
        {"name": "Owner", "type": "singleCollaborator"},
        {"name": "Watchers", "type": "multipleCollaborators"},
        {"name": "How many", "type": "count", "options": {"recordLinkFieldId": "About"}},
        {"name": "Who", "type": "multipleLookupValues",
         "options": {"recordLinkFieldId": "About", "fieldIdInLinkedTable": "Name"}},
    ])
    ada, bo = at.insert_records(base_id, people_id, [{"Name": "Ada"}, {"Name": "Bo"}])
    ada_user = at.add_user("Ada Okafor", "ada@example.com")
    notes = api.table(base_id, notes_id)
    note = notes.create({"Title": "n1", "About": [ada, bo], "Owner": {"email": "ada@example.com"},
                         "Watchers": [{"id": ada_user}]})
    assert note["fields"]["About"] == [ada, bo]
    assert note["fields"]["Owner"] == {"id": ada_user, "email": "ada@example.com",
                                       "name": "Ada Okafor"}
    assert note["fields"]["Watchers"] == [note["fields"]["Owner"]]
    assert note["fields"]["How many"] == 2
    assert note["fields"]["Who"] == ["Ada", "Bo"]
    people_table = api.table(base_id, people_id)
    assert people_table.get(ada)["fields"]["Notes"] == [note["id"]]  # the inverse field
    notes.update(note["id"], {"About": [bo]})
    assert "Notes" not in people_table.get(ada)["fields"]
    assert people_table.get(bo)["fields"]["Notes"] == [note["id"]]
    people_table.delete(bo)
    assert "About" not in notes.get(note["id"])["fields"]
    assert notes.get(note["id"])["fields"]["How many"] == 0
    assert notes.all(formula="{About} = ''")[0]["id"] == note["id"]


def test_upload_attachment_route(emu: Emulator, api: Api) -> None:
    at = emu.airtable
    base_id = at.create_base("Files")
    table_id = at.create_table(base_id, "Docs", [
        {"name": "Name", "type": "singleLineText"},
        {"name": "Files", "type": "multipleAttachments"}])
    record = at.insert_records(base_id, table_id, [{"Name": "d"}])[0]
    # pyairtable forces the host content.airtable.com for this call; use HTTP directly.
    answer = requests.post(
        f"{emu.url}/v0/{base_id}/{record}/Files/uploadAttachment", timeout=10,
        headers={"Authorization": f"Bearer {emu.airtable_token}"},
        json={"contentType": "text/plain", "filename": "sample.txt",
              "file": base64.b64encode(b"Hello world").decode()})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    field_id = api.table(base_id, table_id).schema().field("Files").id
    assert list(body["fields"]) == [field_id]  # keyed by field id, always
    attachment = body["fields"][field_id][0]
    assert attachment["filename"] == "sample.txt"
    assert attachment["size"] == 11
    assert attachment["type"] == "text/plain"
    assert attachment["id"].startswith("att")
    kept = api.table(base_id, table_id).update(record, {"Files": [
        {"id": attachment["id"]}, {"url": "https://example.com/a.pdf", "filename": "a.pdf"}]})
    assert [a["filename"] for a in kept["fields"]["Files"]] == ["sample.txt", "a.pdf"]


# ---------------------------------------------------------------------------
# Schema


def test_schema_create_table_and_fields(emu: Emulator, api: Api, raw: Api) -> None:
    base_id = emu.airtable.create_base("Reports")
    base = api.base(base_id)
    table = base.create_table("Monthly", [
        {"name": "Month", "type": "singleLineText"},
        {"name": "Score", "type": "number", "options": {"precision": 1}},
        {"name": "Status", "type": "singleSelect", "options": {"choices": [{"name": "Draft"}]}},
    ])
    assert isinstance(table, Table)
    schema = table.schema()
    assert schema.primary_field_id == schema.fields[0].id
    assert [v.name for v in schema.views] == ["Grid view"]
    assert isinstance(schema.field("Score"), NumberFieldSchema)
    assert isinstance(schema.field("Status"), SingleSelectFieldSchema)
    done = table.create_field("Done", "checkbox", options={"color": "greenBright",
                                                          "icon": "check"})
    assert isinstance(done, CheckboxFieldSchema)
    link = table.create_field("Parent", "multipleRecordLinks",
                              options={"linkedTableId": schema.id})
    assert isinstance(link, MultipleRecordLinksFieldSchema)
    field = table.schema(force=True).field("Score")
    field.name = "Points"
    field.save()
    renamed = table.schema(force=True).field(field.id)
    assert renamed.name == "Points"
    table.create({"Month": "2026-10", "Points": 4.5})
    assert table.first()["fields"]["Points"] == 4.5  # type: ignore[index]
    rt = raw.base(base_id)
    with pytest.raises(requests.HTTPError) as exc:
        rt.create_table("monthly", [{"name": "A", "type": "singleLineText"}])
    assert error_type(exc.value) == "DUPLICATE_TABLE_NAME"
    bad_fields: list[tuple[dict[str, Any], str]] = [
        ({"name": "points", "type": "singleLineText"}, "DUPLICATE_OR_EMPTY_FIELD_NAME"),
        ({"name": "N", "type": "number"}, "INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE"),
        ({"name": "T", "type": "singleLineText", "options": {}},
         "INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE"),
        ({"name": "F", "type": "formula", "options": {"formula": "1"}},
         "UNSUPPORTED_FIELD_TYPE_FOR_CREATE"),
        ({"name": "L", "type": "multipleRecordLinks",
          "options": {"linkedTableId": schema.id, "prefersSingleRecordLink": True}},
         "INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE"),
    ]
    for spec, kind in bad_fields:
        with pytest.raises(requests.HTTPError) as exc:
            raw.request("POST", rt.urls.tables + f"/{schema.id}/fields", json=spec)
        assert error_type(exc.value) == kind, spec


def test_bases_and_whoami(emu: Emulator, api: Api) -> None:
    base_id = emu.airtable.create_base("Leadership")
    assert [(b.id, b.name) for b in api.bases()] == [(base_id, "Leadership")]
    assert api.whoami()["id"].startswith("usr")


# ---------------------------------------------------------------------------
# Limits and failures


def test_429_with_retry_after_and_the_penalty() -> None:
    limits = Limits(airtable_rps=5, airtable_penalty_seconds=0.5, fractional_retry_after=True)
    with Emulator(seed=2, limits=limits, clock=FrozenClock()) as emu:  # time stands still
        base_id = emu.airtable.create_base("B")
        table_id = emu.airtable.create_table(base_id, "T", [
            {"name": "Name", "type": "singleLineText"}])
        raw = Api(emu.airtable_token, endpoint_url=emu.url, retry_strategy=False)
        table = raw.table(base_id, table_id)
        errors = []
        for _ in range(10):
            try:
                table.all()
            except requests.HTTPError as exc:
                errors.append(exc)
        assert len(errors) == 5  # the burst of five, then the penalty refuses the rest
        response = errors[0].response
        assert response is not None
        assert response.status_code == 429
        assert response.json()["error"]["type"] == "RATE_LIMIT_REACHED"
        assert float(response.headers["Retry-After"]) == 0.5
        assert emu.stats.rate_limited["airtable"] == 5


def test_pyairtable_retries_after_the_penalty(monkeypatch: pytest.MonkeyPatch) -> None:
    # Whole seconds: urllib3 refuses a fractional Retry-After (InvalidHeader).
    limits = Limits(airtable_rps=5, airtable_penalty_seconds=0.5)
    clock = FrozenClock()
    waited: list[float] = []

    def sleep(seconds: float) -> None:  # urllib3's wait moves the emulator's clock instead
        waited.append(seconds)
        clock.advance(seconds=seconds)

    monkeypatch.setattr("urllib3.util.retry.time.sleep", sleep)
    with Emulator(seed=2, limits=limits, clock=clock) as emu:
        base_id = emu.airtable.create_base("B")
        table_id = emu.airtable.create_table(base_id, "T", [
            {"name": "Name", "type": "singleLineText"}])
        table = Api(emu.airtable_token, endpoint_url=emu.url).table(base_id, table_id)
        for _ in range(8):
            assert table.all() == []  # the default retry honours Retry-After: 1
        assert emu.stats.count("airtable.records.list", 429) == 1
        assert waited == [1.0]


def test_an_expired_offset_breaks_iteration(emu: Emulator, raw: Api) -> None:
    base_id, table_id, _ = people(emu, 30)
    pages = raw.table(base_id, table_id).iterate(page_size=10)
    next(pages)
    assert isinstance(emu.clock, FrozenClock)
    emu.clock.advance(seconds=emu.limits.airtable_offset_ttl_seconds + 1)
    with pytest.raises(requests.HTTPError) as exc:
        next(pages)
    assert error_type(exc.value) == "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"
    # An offset used within its idle time keeps working, however long the whole list takes.
    pages = raw.table(base_id, table_id).iterate(page_size=10)
    for _ in range(3):
        next(pages)
        emu.clock.advance(seconds=emu.limits.airtable_offset_ttl_seconds - 1)
    emu.faults.add(Fault("expire_offset", route="airtable.records.list", limit=1))
    pages = raw.table(base_id, table_id).iterate(page_size=10)
    next(pages)
    with pytest.raises(requests.HTTPError) as exc:
        next(pages)
    assert error_type(exc.value) == "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"


def test_the_monthly_quota_answers_429_billing_limit(emu: Emulator, raw: Api) -> None:
    base_id, table_id, _ = people(emu, 3)
    table = raw.table(base_id, table_id)
    emu.airtable.quota_remaining = 2
    assert len(table.all()) == 3
    assert len(table.all()) == 3
    for _ in range(2):
        with pytest.raises(requests.HTTPError) as exc:
            table.all()
        assert exc.value.response is not None
        assert exc.value.response.status_code == 429
        assert "Retry-After" not in exc.value.response.headers
        assert error_type(exc.value) == "PUBLIC_API_BILLING_LIMIT_EXCEEDED"
    assert raw.base(base_id).schema().table(table_id).name == "People"  # metadata still works
    emu.airtable.quota_remaining = None
    assert len(table.all()) == 3


def test_server_errors_and_resets_are_injected(emu: Emulator, raw: Api) -> None:
    base_id, table_id, _ = people(emu, 1)
    table = raw.table(base_id, table_id)
    emu.faults.add(Fault("error", route="airtable.records.create", status=503, phase="after",
                         limit=1))
    with pytest.raises(requests.HTTPError) as exc:
        table.create({"Name": "lost answer"})
    assert error_type(exc.value) == "RETRIABLE_ERROR"
    assert len(table.all()) == 2  # the write happened, only its answer was lost
