"""The 3PA sandbox itself, spoken to with plain httpx as a stranger would."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx
from click.testing import CliRunner

from plugins.lightspeed_dms.threepa import parse_part
from plugins.lightspeed_dms.threepa.cli import threepa_sandbox_command
from plugins.lightspeed_dms.threepa.sandbox import FaultRule, generate_parts, running_sandbox

DEALER = "76014846"
AUTH = ("user", "pass")
NOW = datetime(2025, 11, 23, 8, 0)


def parts(n: int, code: str = "TR") -> list[dict[str, Any]]:
    return [{"PartNumber": f"P{i:04d}", "SupplierCode": code, "OnHand": i % 3} for i in range(n)]


def get(base_url: str, path: str, auth: Any = AUTH, **params: str) -> httpx.Response:
    return httpx.get(f"{base_url}{path}", params=params, auth=auth, timeout=10)


def test_requests_without_valid_credentials_get_a_plain_text_401() -> None:
    with running_sandbox({DEALER: parts(1)}) as sandbox:
        for auth in (None, ("user", "wrong"), ("nobody", "pass")):
            response = get(sandbox.base_url, "/Dealer", auth=auth)
            assert response.status_code == 401
            assert response.headers["content-type"].startswith("text/plain")
            assert response.headers["www-authenticate"].startswith("Basic")


def test_unknown_dealer_is_a_404_and_a_bad_filter_a_400_in_plain_text() -> None:
    with running_sandbox({DEALER: parts(1)}) as sandbox:
        missing = get(sandbox.base_url, "/Part/999")
        bad = get(sandbox.base_url, f"/Part/{DEALER}", **{"$filter": "SupplierCode eq"})
        unknown = get(sandbox.base_url, f"/Part/{DEALER}", **{"$filter": "Colour eq 'red'"})
        select = get(sandbox.base_url, f"/Part/{DEALER}", **{"$select": "PartNumber"})
    assert missing.status_code == 404 and "999" in missing.text
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/plain")
    assert unknown.status_code == 400 and "Colour" in unknown.text
    assert select.status_code == 400 and "$select" in select.text


def test_top_is_capped_at_500_and_skip_orderby_page_through() -> None:
    with running_sandbox({DEALER: parts(1_200)}) as sandbox:
        capped = get(sandbox.base_url, f"/Part/{DEALER}", **{"$top": "1000"}).json()
        page = get(
            sandbox.base_url,
            f"/Part/{DEALER}",
            **{"$top": "3", "$skip": "2", "$orderby": "PartNumber desc", "$filter": "OnHand gt 0"},
        ).json()
    assert len(capped) == 500
    assert [p["PartNumber"] for p in page] == ["P1196", "P1195", "P1193"]


def test_rate_limit_answers_429_with_retry_after_once_the_window_is_full() -> None:
    with running_sandbox({DEALER: parts(1)}, rate_limit_per_minute=3) as sandbox:
        statuses = [get(sandbox.base_url, "/Dealer").status_code for _ in range(4)]
        refused = get(sandbox.base_url, "/Dealer")
        # The limit is per credential: another user still has its own budget.
    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    assert sandbox.state.rate_limited == 2


def test_rate_limit_is_counted_per_credential() -> None:
    users = {"user": "pass", "other": "pass"}
    with running_sandbox({DEALER: parts(1)}, users=users, rate_limit_per_minute=1) as sandbox:
        first = get(sandbox.base_url, "/Dealer").status_code
        second = get(sandbox.base_url, "/Dealer", auth=("other", "pass")).status_code
    assert (first, second) == (200, 200)


def test_faults_can_target_one_supplier_code() -> None:
    fault = FaultRule(kind="5xx", supplier_code="KA", status=502)
    with running_sandbox({DEALER: parts(5) + parts(5, "KA")}, faults=[fault]) as sandbox:
        tr = get(sandbox.base_url, f"/Part/{DEALER}", **{"$filter": "SupplierCode eq 'TR'"})
        ka = get(sandbox.base_url, f"/Part/{DEALER}", **{"$filter": "SupplierCode eq 'KA'"})
    assert tr.status_code == 200 and ka.status_code == 502
    assert [r.fault for r in sandbox.state.log()] == [None, "5xx"]


def test_truncated_fault_sends_half_a_json_body() -> None:
    with running_sandbox(
        {DEALER: parts(20)}, faults=[{"kind": "truncated", "count": 1}]
    ) as sandbox:
        first = get(sandbox.base_url, f"/Part/{DEALER}")
        second = get(sandbox.base_url, f"/Part/{DEALER}")
    assert first.status_code == 200 and len(first.content) < len(second.content)
    assert len(second.json()) == 20


def test_generated_parts_have_the_warehouse_quirks() -> None:
    records = generate_parts(5_000, seed=3, dealer_id=DEALER, now=NOW)
    assert records == generate_parts(5_000, seed=3, dealer_id=DEALER, now=NOW)
    assert len(records) == 5_000
    parsed = [parse_part(r) for r in records]
    key_styles = Counter(
        "lower" if "partnumber" in r else "upper" if "PARTNUMBER" in r else "canonical"
        for r in records
    )
    assert key_styles["lower"] > 100 and key_styles["upper"] > 100
    assert {p.supplier_code for p in parsed} >= {"TR", "WPS", "KA", "HO", "PU"}
    assert any(p.on_hand == 0 for p in parsed) and any(p.on_hand and p.on_hand < 0 for p in parsed)
    assert any(p.description is None for p in parsed) and any(p.retail is None for p in parsed)
    placeholders = [
        r for r in records for v in r.values() if isinstance(v, str) and v[:5] in ("1900-", "1000-")
    ]
    assert len(placeholders) > 100
    old = [
        p for p in parsed if p.last_update_date and p.last_update_date < NOW - timedelta(days=365)
    ]
    assert 0.3 < len(old) / len(parsed) < 0.7
    assert any(isinstance(r.get("OnHand"), str) for r in records)
    # Some part numbers come twice, once without their punctuation ("12-345" and "12345").
    numbers = {p.part_number for p in parsed}
    assert any("-" in n and n.replace("-", "") in numbers for n in numbers)


def test_cli_command_documents_its_options() -> None:
    result = CliRunner().invoke(threepa_sandbox_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--port", "--parts", "--seed", "--rate-limit"):
        assert option in result.output
