#!/usr/bin/env python3
# Splits the UCI digits (digits.csv.gz) once into a random 75% training file
# and a 25% held-out test file, with a fixed seed. Run once; outputs committed.
import gzip, random
# digits.csv.gz is ../shared/data/digits.csv.gz of the project's shared folder.
rows = gzip.open("digits.csv.gz", "rt").read().strip().split("\n")
random.Random(2026).shuffle(rows)
cut = len(rows) * 3 // 4
for name, part in (("digits_train.csv.gz", rows[:cut]), ("digits_test.csv.gz", rows[cut:])):
    with gzip.GzipFile(name, "wb", mtime=0) as f:
        f.write(("\n".join(part) + "\n").encode())

# For the transfer-learning blueprint: the same split, by class, digits 0-4
# (to train a base on) and 5-9 (the new task).
def label(row):
    return int(row.rsplit(",", 1)[1])
for lo, hi in ((0, 4), (5, 9)):
    for name, part in (("train", rows[:cut]), ("test", rows[cut:])):
        keep = [r for r in part if lo <= label(r) <= hi]
        with gzip.GzipFile("digits_%dto%d_%s.csv.gz" % (lo, hi, name), "wb", mtime=0) as f:
            f.write(("\n".join(keep) + "\n").encode())
