"""`huren catalogue` round trip through main(): export the demo's catalogue, bump it, add an item
with a rule, change and remove items, review the diff, sign by each city's operators separately,
combine, submit; then `huren verify --item` judges documents for the new item."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from demo.world import (
    ITEM_SZ_FOOD_PRODUCTION,
    ITEM_SZ_MEAL_SUPPLIER,
    SHENZHEN,
    ZHONGSHAN,
    build_demo_world,
    operator_key_name,
    write_demo,
)
from tests.support.cli_support import run_cli as run

NEW_ITEM = "440300-WSJ-0101"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    d = tmp_path / "demo"
    write_demo(d, build_demo_world(datetime.now(UTC).replace(microsecond=0)))
    return d


def op(demo: Path, city: str, i: int) -> Path:
    return demo / "keys" / f"{operator_key_name(city, i)}.pem"


def test_round_trip(demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    held, draft = tmp_path / "held.json", tmp_path / "draft.json"
    assert run(capsys, "catalogue", "export", "--config", demo, "--out", held)[0] == 0
    # A signed catalogue is never edited in place.
    status, _, err = run(capsys, "catalogue", "bump", held)
    assert status == 2 and "give --out" in err
    assert run(capsys, "catalogue", "bump", held, "--out", draft)[0] == 0
    item = ("--relying", SHENZHEN, "--code", NEW_ITEM)
    status, out, err = run(
        capsys, "catalogue", "add-item", draft, *item,
        "--name-zh", "餐饮服务食品安全检查预约", "--name-en", "Booking of catering inspections",
        "--department-zh", "深圳市卫生健康委员会", "--department-en", "Shenzhen Health Commission",
    )  # fmt: skip
    assert status == 0, err
    status, out, err = run(
        capsys, "catalogue", "add-rule", draft, *item, "--issuing", "440300,442000",
        "--licence-types", "food_business_permit", "--enterprise",
        "--data-includes", "主体业态=中央厨房|集体用餐配送单位",
    )  # fmt: skip
    assert status == 0, err
    assert "主体业态 includes one of 中央厨房/集体用餐配送单位" in out
    assert run(capsys, "catalogue", "change-item", draft, "--relying", SHENZHEN, "--code",
               ITEM_SZ_MEAL_SUPPLIER, "--city-wide")[0] == 0  # fmt: skip
    assert run(capsys, "catalogue", "remove-item", draft, "--relying", SHENZHEN, "--code",
               ITEM_SZ_FOOD_PRODUCTION)[0] == 0  # fmt: skip
    # Mistakes are refused with one line, and change nothing.
    before = draft.read_bytes()
    for argv in (
        ("add-item", draft, *item, "--name-zh", "重复", "--name-en", "Again"),
        ("remove-item", draft, "--relying", SHENZHEN, "--code", "440300-NONE-0000"),
        ("add-rule", draft, *item, "--issuing", "440300", "--seal-types", "no_such_seal"),
        (
            "add-item",
            draft,
            "--relying",
            SHENZHEN,
            "--code",
            "lower-case",
            "--name-zh",
            "x",
            "--name-en",
            "x",
        ),
    ):
        status, _, err = run(capsys, "catalogue", *argv)
        assert status == 1 and err.startswith("huren: refused [malformed]"), (argv, err)
    status, _, err = run(capsys, "catalogue", "add-rule", draft, *item, "--issuing", "440300",
                         "--data-includes", "no-equals-sign")  # fmt: skip
    assert status == 2, err
    assert draft.read_bytes() == before
    # The review.
    status, out, _ = run(capsys, "catalogue", "diff", held, draft)
    assert status == 0
    assert (
        f"+ item 440300/{NEW_ITEM} 餐饮服务食品安全检查预约 / Booking of catering inspections"
        in out
    )
    assert f"- item 440300/{ITEM_SZ_FOOD_PRODUCTION}" in out
    assert f"+ item 440300/{ITEM_SZ_MEAL_SUPPLIER} accepts city-wide recognitions" in out
    assert "  ! counters can no longer verify documents for this item" in out
    assert "operators of 440300, 442000" in out
    status, out, _ = run(
        capsys, "catalogue", "items", draft, "--relying", SHENZHEN, "--q", "catering"
    )
    assert NEW_ITEM in out and ITEM_SZ_MEAL_SUPPLIER not in out
    # Signed separately by two operators of each city, combined, submitted.
    sigs = []
    for city in (SHENZHEN, ZHONGSHAN):
        for i in (1, 2):
            sig = tmp_path / f"{city}-{i}.sig.json"
            assert (
                run(capsys, "catalogue", "sign", draft, "--key", op(demo, city, i), "--out", sig)[0]
                == 0
            )
            sigs.append(sig)
    signed = tmp_path / "signed.json"
    # Shenzhen's signatures alone are refused by the service: Zhongshan's entries are in it too.
    assert run(capsys, "catalogue", "combine", *sigs[:2], "--out", signed)[0] == 0
    status, _, err = run(capsys, "trust", "submit", signed, "--config", demo)
    assert status == 1 and "threshold_not_met" in err and "442000" in err, err
    assert run(capsys, "catalogue", "combine", *sigs, "--out", signed)[0] == 0
    assert len(json.loads(signed.read_text())["signatures"]) == 4
    status, out, err = run(capsys, "trust", "submit", signed, "--config", demo)
    assert status == 0, err
    # `huren verify --item`: the Zhongshan central kitchen's permit for the new item, and for an
    # item that no longer exists.
    permit = demo / "samples" / "licence-zs-food.jws"
    base = ("verify", permit, "--config", demo, "--relying", SHENZHEN, "--lang", "en")
    status, out, err = run(capsys, *base, "--item", NEW_ITEM, "--detailed")
    assert status == 0, out + err
    assert "item.accepted" in out and "Booking of catering inspections" in out
    status, out, err = run(capsys, *base, "--item", ITEM_SZ_FOOD_PRODUCTION)
    assert status == 2 and "no service item" in err, out + err
    # The Shenzhen business licence is valid but not a food permit: refused for the new item.
    licence = demo / "samples" / "licence-sz-business.jws"
    status, out, _ = run(capsys, "verify", licence, "--config", demo, "--relying", SHENZHEN,
                         "--item", NEW_ITEM)  # fmt: skip
    assert status == 1 and "item.refused" in out and "餐饮服务食品安全检查预约" in out, out


def test_combine_refuses_signatures_over_another_catalogue(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held, a, b = tmp_path / "held.json", tmp_path / "a.json", tmp_path / "b.json"
    run(capsys, "catalogue", "export", "--config", demo, "--out", held)
    run(capsys, "catalogue", "bump", held, "--out", a)
    run(capsys, "catalogue", "bump", held, "--out", b, "--issued-at", "2026-01-01T00:00:00Z")
    sa, sb = tmp_path / "sa.json", tmp_path / "sb.json"
    run(capsys, "catalogue", "sign", a, "--key", op(demo, SHENZHEN, 1), "--out", sa)
    run(capsys, "catalogue", "sign", b, "--key", op(demo, ZHONGSHAN, 1), "--out", sb)
    status, _, err = run(capsys, "catalogue", "combine", sa, sb, "--out", tmp_path / "c.json")
    assert status == 1 and "signs another catalogue" in err
    status, _, err = run(capsys, "catalogue", "combine", a, "--out", tmp_path / "c.json")
    assert status == 1 and "unsigned catalogue draft" in err
