"""Walk the whole Gophermart story against a running stack, step by step.

    .venv/bin/python scripts/demo.py [--api http://localhost:8080] [--accrual http://localhost:8081]

Registers a shopper, registers a reward mechanic and an order at the accrual system (the
bundled simulator), hands the order in, watches its status until PROCESSED, shows the
balance, spends part of it and lists the withdrawals. Exits non-zero if any step fails.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time

import requests

from gophermart.luhn import with_check_digit as luhn


class Demo:
    def __init__(self, api: str, accrual: str, timeout: float):
        self.api, self.accrual, self.timeout = api.rstrip("/"), accrual.rstrip("/"), timeout
        self.http = requests.Session()
        self.step_no = 0

    def step(self, text: str) -> None:
        self.step_no += 1
        print(f"\n{self.step_no}. {text}")

    def show(self, response: requests.Response, expect: int) -> requests.Response:
        body = response.text.strip()
        print(f"   → {response.status_code} {body[:200]}")
        if response.status_code != expect:
            raise SystemExit(f"   ✗ expected {expect}, got {response.status_code}")
        return response

    def run(self) -> None:
        login = f"demo-{secrets.token_hex(3)}"
        brand = f"Gopher{secrets.token_hex(2)}"
        number, payment = luhn(str(secrets.randbelow(10**11) + 10**11)), luhn(str(secrets.randbelow(10**11) + 10**11))

        self.step(f"Register the shopper {login!r} (the answer carries a bearer token)")
        response = self.show(
            self.http.post(f"{self.api}/api/user/register", json={"login": login, "password": "demo"}), 200
        )
        self.http.headers["Authorization"] = response.headers["Authorization"]

        self.step(f"At the accrual system: a 5 % reward on goods named {brand!r}, and order {number}")
        self.show(
            self.http.post(f"{self.accrual}/api/goods", json={"match": brand, "reward": 5, "reward_type": "%"}), 200
        )
        order: dict[str, str | list[dict[str, str | float]]] = {
            "order": number,
            "goods": [{"description": f"TV {brand} 4K", "price": 14599.50}],
        }
        self.show(self.http.post(f"{self.accrual}/api/orders", json=order), 202)

        self.step(f"Hand in order {number}")
        self.show(
            self.http.post(f"{self.api}/api/user/orders", data=number, headers={"Content-Type": "text/plain"}), 202
        )

        self.step("Watch its status")
        deadline, last = time.monotonic() + self.timeout, None
        while True:
            listed = self.http.get(f"{self.api}/api/user/orders").json()
            current = next(o for o in listed if o["number"] == number)
            if current["status"] != last:
                print(f"   {time.strftime('%H:%M:%S')} {json.dumps(current)}")
                last = current["status"]
            if last in ("PROCESSED", "INVALID"):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"   ✗ still {last} after {self.timeout:.0f} s")
            time.sleep(0.3)
        if current.get("accrual") != 729.98:
            raise SystemExit(f"   ✗ expected 729.98 points, got {current.get('accrual')}")

        self.step("The balance")
        self.show(self.http.get(f"{self.api}/api/user/balance"), 200)

        self.step(f"Spend 500 points on a new order {payment}")
        self.show(self.http.post(f"{self.api}/api/user/balance/withdraw", json={"order": payment, "sum": 500}), 200)
        balance = self.show(self.http.get(f"{self.api}/api/user/balance"), 200).json()
        if balance != {"current": 229.98, "withdrawn": 500}:
            raise SystemExit(f"   ✗ unexpected balance {balance}")

        self.step("The withdrawals")
        self.show(self.http.get(f"{self.api}/api/user/withdrawals"), 200)
        print("\n✓ the whole story works")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api", default="http://localhost:8080")
    parser.add_argument("--accrual", default="http://localhost:8081")
    parser.add_argument("--timeout", type=float, default=30, help="seconds to wait for PROCESSED")
    args = parser.parse_args()
    try:
        Demo(args.api, args.accrual, args.timeout).run()
    except requests.ConnectionError as exc:
        sys.exit(f"cannot reach the stack: {exc}")


if __name__ == "__main__":
    main()
