"""`flask fx refresh`, `flask tax import|export|report`: audited like the admin pages."""
from __future__ import annotations

from app.services.money import fx
from app.services.shop import tax


def test_fx_refresh_reads_a_given_file_and_refuses_a_bad_one(app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["fx", "refresh"])
    assert result.exit_code == 0 and "rates of 2026-12-04" in result.output
    bad = tmp_path / "bad.xml"
    bad.write_text("<nope")
    result = runner.invoke(args=["fx", "refresh", "--source", str(bad)])
    assert result.exit_code == 1 and "not XML" in result.output
    assert fx.current().as_of.isoformat() == "2026-12-04"


def test_tax_import_export_and_report(app, tmp_path):
    runner = app.test_cli_runner()
    rates = tmp_path / "rates.csv"
    rates.write_text("country,category,rate\nDE,standard,19\nFR,reduced,5.5\n")
    result = runner.invoke(args=["tax", "import", str(rates)])
    assert result.exit_code == 0 and "2 rates loaded" in result.output
    assert tax.table() == {("DE", "standard"): 1900, ("FR", "reduced"): 550}
    result = runner.invoke(args=["tax", "export"])
    assert result.output == "country,category,rate\nDE,standard,19\nFR,reduced,5.5\n"
    rates.write_text("DE,standard,abc\n")
    result = runner.invoke(args=["tax", "import", str(rates)])
    assert result.exit_code == 1 and "line 1" in result.output
    result = runner.invoke(args=["tax", "report", "--start", "2026-01-01", "--end",
                                 "2026-12-31"])
    assert result.exit_code == 0 and result.output.startswith("country,currency,")
