#!/usr/bin/env python3
# Splits the UCI digits (digits.csv.gz) once into a random 75% training file
# and a 25% held-out test file, with a fixed seed. Run once; outputs committed.
import gzip, random
rows = gzip.open("digits.csv.gz", "rt").read().strip().split("\n")
random.Random(2026).shuffle(rows)
cut = len(rows) * 3 // 4
for name, part in (("digits_train.csv.gz", rows[:cut]), ("digits_test.csv.gz", rows[cut:])):
    with gzip.GzipFile(name, "wb", mtime=0) as f:
        f.write(("\n".join(part) + "\n").encode())
