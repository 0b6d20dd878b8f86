"""Property tests: Luhn against a reference, money round-trips, the ledger invariant."""

from decimal import Decimal

import simplejson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gophermart.errors import InsufficientFunds
from gophermart.extensions import db
from gophermart.luhn import MAX_DIGITS, is_valid_order_number, luhn_valid
from gophermart.models import OrderStatus, User
from gophermart.money import MAX_AMOUNT, for_json, to_amount
from gophermart.services import ledger
from gophermart.services.orders import submit_order
from tests.support.factories import luhn_number, order_id_of

digits = st.text(alphabet="0123456789", min_size=1, max_size=300)
amounts = st.decimals(min_value=Decimal("0.01"), max_value=MAX_AMOUNT, places=2, allow_nan=False, allow_infinity=False)


def reference_luhn(number: str) -> bool:
    checksum = 0
    for index, char in enumerate(reversed(number)):
        value = int(char) * (1 if index % 2 == 0 else 2)
        checksum += value // 10 + value % 10
    return checksum % 10 == 0


@given(digits)
def test_luhn_matches_the_reference(number):
    assert luhn_valid(number) == reference_luhn(number)
    assert is_valid_order_number(number) == (reference_luhn(number) and len(number) <= MAX_DIGITS)


@given(st.text(max_size=20).filter(lambda s: not (s.isascii() and s.isdigit())))
def test_anything_but_ascii_digits_is_not_an_order_number(text):
    assert not is_valid_order_number(text)


@given(amounts)
def test_amounts_render_as_plain_literals_and_read_back_exactly(amount):
    text = simplejson.dumps(for_json(amount), use_decimal=True)
    assert "E" not in text and "e" not in text and '"' not in text
    assert Decimal(text) == amount
    assert to_amount(simplejson.loads(text, use_decimal=True)) == amount


@given(amounts, st.integers(min_value=1, max_value=9))
def test_a_third_decimal_is_refused(amount, extra):
    import pytest

    with pytest.raises(ValueError):
        to_amount(amount + Decimal(extra) / 1000)


operations = st.lists(
    st.tuples(
        st.sampled_from(["credit", "withdraw"]),
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations)
def test_ledger_invariant_for_any_interleaving(app, ops):
    """current = credits − withdrawals ≥ 0 and withdrawn = Σ withdrawals, whatever the order;
    a withdrawal fails exactly when the balance is short."""
    with app.app_context():
        user = User(login=f"prop-{db.session.query(User).count()}-{id(ops)}", password_hash="x")
        db.session.add(user)
        db.session.commit()
        credited = withdrawn = Decimal(0)
        for step, (kind, amount) in enumerate(ops):
            number = luhn_number(10**9 + user.id * 100 + step)
            if kind == "credit":
                submit_order(user.id, number)
                order_id = order_id_of(number)
                assert ledger.apply_final_status(order_id, OrderStatus.PROCESSED, amount)
                credited += amount
            else:
                short = credited - withdrawn < amount
                try:
                    ledger.withdraw(user.id, number, amount)
                    assert not short
                    withdrawn += amount
                except InsufficientFunds:
                    assert short
            db.session.expire_all()
            balance = ledger.get_balance(db.session.get_one(User, user.id))
            assert balance.current == credited - withdrawn >= 0
            assert balance.withdrawn == withdrawn
