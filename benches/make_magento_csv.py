#!/usr/bin/env python3
"""Writes a Magento 2 "Customers Main File" export of N fake customers, for timing
`shop-accounts import magento`:

    python3 benches/make_magento_csv.py 1000000 /tmp/customers.csv
    /usr/bin/time -v target/release/shop-accounts import magento /tmp/customers.csv

Deterministic. Hashes are shaped like the kinds a real shop holds (mostly Magento
2.4 Argon2, some SHA-256, upgraded chains, Magento 1 and bcrypt); their digests are
random, since the import stores hashes without checking passwords.
"""

import random
import sys

HEADER = ("email,_website,_store,confirmation,created_at,created_in,disable_auto_group_change,dob,"
          "firstname,gender,group_id,lastname,middlename,password_hash,prefix,rp_token,"
          "rp_token_created_at,store_id,suffix,taxvat,updated_at,website_id,password")
FIRST = ["Emma", "Liam", "Olivia", "Noah", "Sophie", "Daan", "Julia", "Sem", "Zoë", "José",
         "Chloé", "Björn", "Anna", "Jan", "Fatima", "Omar", "Ravi", "Aiko", "Lucía", "Mateo"]
LAST = ["de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Smith", "Müller", "Garcia",
        "O'Brien", "Dubois", "Rossi", "Novak", "Nielsen", "Yamamoto", "Patel", "Okafor"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example"]
SALT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
B64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def hexd(rng, n):
    return "%0*x" % (n, rng.getrandbits(4 * n))


def password_hash(rng):
    salt = "".join(rng.choice(SALT_CHARS) for _ in range(32))
    kind = rng.random()
    if kind < 0.60:
        return f"{hexd(rng, 64)}:{salt}:3_32_2_67108864"
    if kind < 0.75:
        return f"{hexd(rng, 64)}:{salt}:1"
    if kind < 0.85:
        return f"{hexd(rng, 64)}:{salt}:1:3_32_2_67108864"
    if kind < 0.90:
        return f"{hexd(rng, 32)}:{salt[:2]}"
    if kind < 0.95:
        return "$2y$10$" + "".join(rng.choice(B64) for _ in range(53))
    return ""


def main():
    n, path = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(9)
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\r\n")
        for i in range(n):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"customer{i}.{rng.randrange(10**6)}@{rng.choice(DOMAINS)}"
            created = (f"20{rng.randrange(10, 25):02d}-{rng.randrange(1, 13):02d}-"
                       f"{rng.randrange(1, 29):02d} {rng.randrange(24):02d}:{rng.randrange(60):02d}:"
                       f"{rng.randrange(60):02d}")
            name = f'"{last}"' if "'" in last else last
            out.write(f"{email},base,default,,{created},Default Store View,0,,{first},0,1,{name},,"
                      f"{password_hash(rng)},,,,1,,,{created},1,\r\n")


if __name__ == "__main__":
    main()
