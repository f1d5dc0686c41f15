"""Fan-outs and their items in the Django admin: read-only, with their counters and links to the parent, to
the items of one fan-out and to its children in MONDAT."""
import re

import pytest

from engine.models import FanOut, FanOutItem
from tests.fan_outs import children_of, release, start_fan
from tests.monitoring.conftest import login, make_user


@pytest.fixture
def su(world):
    return login(make_user("root", superuser=True))


@pytest.fixture
def fan(world):
    parent = start_fan(world)
    release(world, children_of(parent)[0])
    return FanOut.objects.get(tx_id=parent)


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_the_fan_out_list_shows_its_counters_and_its_parent(su, fan):
    html = page(su, "/admin/engine/fanout/")
    row = re.search(r'<tr>.*?</tr>', html.split("<tbody>")[1], re.S).group(0)
    cells = re.findall(r'<t[dh][^>]*>(.*?)</t[dh]>', row, re.S)
    assert [re.sub(r"<[^>]+>", "", cell) for cell in cells][:13] == [
        str(fan.pk), f"{fan.tx_id} · MONDAT", "each", "1", "gated-item", "all", "5", "3", "2", "1", "0", "2", "-"]
    assert f'href="/mondat/transactions/{fan.tx_id}/"' in row


def test_a_fan_out_page_links_to_its_items_and_its_children(su, fan):
    html = page(su, f"/admin/engine/fanout/{fan.pk}/change/")
    assert f'href="/admin/engine/fanoutitem/?fan_out__exact={fan.pk}"' in html
    assert f'href="/mondat/transactions/?parent_tx_id={fan.tx_id}&amp;fan_out={fan.pk}"' in html
    assert '<pre class="datp-json">&quot;50%&quot;</pre>' in html  # tolerated_given, as the step gave it
    items = page(su, f"/admin/engine/fanoutitem/?fan_out__exact={fan.pk}")
    assert "5 fan out items" in items


def test_an_item_is_found_by_its_child_and_shows_its_data(su, fan):
    item = FanOutItem.objects.filter(fan_out=fan, status="success").get()
    html = page(su, f"/admin/engine/fanoutitem/?q={item.child_id}")
    assert "1 fan out item" in html
    assert page(su, f"/admin/engine/fanoutitem/{item.pk}/change/").count('class="datp-json"') == 1


def test_fan_outs_and_items_offer_no_add_change_nor_delete(su, fan):
    item = FanOutItem.objects.filter(fan_out=fan).first()
    for model, obj in (("fanout", fan), ("fanoutitem", item)):
        assert su.get(f"/admin/engine/{model}/add/").status_code == 403
        assert su.get(f"/admin/engine/{model}/{obj.pk}/delete/").status_code == 403
        assert su.post(f"/admin/engine/{model}/{obj.pk}/change/", {}).status_code == 403


def test_an_operator_does_not_see_them(operator, fan):
    assert operator.get("/admin/engine/fanout/").status_code == 302
