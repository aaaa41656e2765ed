import json
from pathlib import Path

from tests.item_files import write_bank


def test_db_upgrade_and_current(run_cli) -> None:  # type: ignore[no-untyped-def]
    from assessment.migrate import MIGRATIONS

    head = sorted(p.stem.split("_")[0] for p in (MIGRATIONS / "versions").glob("0*.py"))[-1]
    result = run_cli("db", "upgrade")
    assert result.exit_code == 0 and f"revision {head}" in result.output
    current = run_cli("db", "current").output
    assert current.startswith(f"current: {head}") and f"head: {head}" in current


def test_items_validate_import_list_export(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bank = write_bank(tmp_path / "bank")
    assert "2 items valid" in run_cli("items", "validate", str(bank)).output
    result = run_cli("items", "import", str(bank))
    assert result.exit_code == 0 and "2 new" in result.output
    listed = json.loads(run_cli("items", "list", "--grade", "5", "--json").output)
    assert [d["id"] for d in listed] == ["t-lamp-choice"] and listed[0]["anchor"] is True
    out = tmp_path / "qti"
    result = run_cli("items", "export", "--format", "qti3", str(out))
    assert result.exit_code == 0 and (out / "imsmanifest.xml").exists()
    again = run_cli("items", "import", str(out))
    assert again.exit_code == 0 and "2 unchanged" in again.output


def test_items_validate_reports_file_item_and_field(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.item_files import SINGLE

    bank = write_bank(tmp_path / "bad", **{"t-lamp-choice.yaml": SINGLE.replace("key: B", "key: E")})
    result = run_cli("items", "validate", str(bank))
    assert result.exit_code != 0
    assert "t-lamp-choice.yaml" in result.output and "t-lamp-choice" in result.output and "key" in result.output


def test_demo_city_and_users(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("demo-city", "--seed", "3")
    assert result.exit_code == 0 and "2500 grade-5 and 2850 grade-8" in result.output
    again = run_cli("demo-city")
    assert again.exit_code == 1 and "already has schools" in again.output
    result = run_cli("users", "create", "wang", "--role", "proctor", "--school", "es-001",
                     input="teacher-pass\nteacher-pass\n")
    assert result.exit_code == 0 and "created proctor wang" in result.output
    bad = run_cli("users", "create", "lee", "--role", "proctor", "--school", "nope-9", input="teacher-pass\nteacher-pass\n")
    assert bad.exit_code == 1 and "no school with source id 'nope-9'" in bad.output


def test_items_import_foreign_qti_with_dimension_and_grades(run_cli) -> None:  # type: ignore[no-untyped-def]
    from tests.item_bank.helpers import FIXTURES

    pkg = str(FIXTURES / "qti21")
    missing = run_cli("items", "import", pkg)
    assert missing.exit_code == 1 and "field dimension" in missing.output and "--dimension D3" in missing.output
    assert "Traceback" not in missing.output
    assert "6 items valid" in run_cli("items", "validate", "--dimension", "D2", pkg).output
    result = run_cli("items", "import", "--dimension", "d2", "--grades", "5", pkg)
    assert result.exit_code == 0 and "6 new" in result.output, result.output
    listed = json.loads(run_cli("items", "list", "--json").output)
    assert len(listed) == 6
    assert {(d["dimension"], tuple(d["grades"]), d["status"]) for d in listed} == {("D2", (5,), "draft")}
    bad = run_cli("items", "import", "--dimension", "D9", pkg)
    assert bad.exit_code == 2 and "--dimension" in bad.output
