"""The return page speaks about the buyer's latest attempt only (issue 12, point 4).

On the hosted page the buyer is declined (4000 0000 0000 0002), then pays with 4242 and is sent
back. Until that payment's webhook is applied our payment still says DECLINED — about the
attempt the buyer has left behind. The sandbox is told to fail our re-fetches of the session a
few times, so the second webhook's job needs its retries and the return page certainly meets
the old decline; a watcher in the page records every "Payment declined" it ever shows.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e import truth
from tests.e2e.steps import (
    VISA,
    check_out,
    continue_to_payment,
    expect_paid,
    log_in,
    pay_with,
    wait_for,
)

pytestmark = pytest.mark.e2e
DECLINED = "4000 0000 0000 0002"

# Records each text of the status box that announces a decline, from the first parse on.
DECLINE_WATCH = """
if (/\\/checkout\\/\\d+\\/return/.test(location.pathname)) {
  window.__declines = [];
  new MutationObserver(function () {
    var box = document.getElementById("payment-status");
    if (box && /Payment declined/.test(box.textContent)) window.__declines.push(box.textContent);
  }).observe(document, {childList: true, subtree: true, characterData: true});
}
"""


@pytest.fixture(params=["desktop", "phone"])
def width(request, page):
    """At desktop width, and on a phone (390 px)."""
    if request.param == "phone":
        page.set_viewport_size(truth.PHONE)
    return request.param


def test_a_decline_before_a_successful_card_is_never_announced(page, shop, stack, journey,
                                                                  width):
    from tests.flows import latest_payment, psp_call

    page.add_init_script(DECLINE_WATCH)
    log_in(page)
    order_id = check_out(page, "Mug")
    continue_to_payment(page, "Hosted payment page")
    pay_with(page, DECLINED, journey)
    wait_for(lambda: latest_payment(order_id).status, lambda s: s == "declined")
    reference = latest_payment(order_id).psp_reference
    fault = psp_call(stack["psp_url"], "POST", "/v1/test_helpers/faults",
                     {"fault": "5xx_before", "count": 3, "path": reference, "method": "GET"})
    assert fault.status_code == 200, fault.text

    pay_with(page, VISA, journey)
    expect(page.locator("#payment-status")).to_be_attached()
    expect(page.get_by_role("alert")).to_have_count(0)
    expect_paid(page, order_id)
    assert page.evaluate("window.__declines") == []
    truth.fits(page)
    psp_call(stack["psp_url"], "DELETE", "/v1/test_helpers/faults")
