#!/usr/bin/env python3
"""Writes golden.jsonl: Python's own time.strftime answers for the unit tests.

Run from this folder: python3 gen_golden.py > golden.jsonl
"""
import json
import os
import time

FORMATS = ['%a', '%A', '%b', '%B', '%c', '%C', '%d', '%D', '%e', '%F', '%g', '%G', '%h', '%H', '%I', '%j',
           '%k', '%l', '%m', '%M', '%n', '%p', '%P', '%r', '%R', '%s', '%S', '%t', '%T', '%u', '%U', '%V',
           '%w', '%W', '%x', '%X', '%y', '%Y', '%z', '%Z', '%%',
           '%10d', '%_10d', '%010d', '%-10d', '%10Y', '%3Y', '%10A', '%010A', '%^A', '%#A', '%#p', '%^p',
           '%#Z', '%^Z', '%10e', '%0e', '%-e', '%_5j', '%5j', '%^c', '%#c', '%12c', '%Ec', '%Oy', '%Ey',
           '%EY', '%Od', '%10%', '%-%', '%10n', '%12s', '%3y', '%10C', '%10G', '%10D', '%12F', '%12r',
           '%012D', '%10R', '%_12D', '%-12D', '%012T', '%-k', '%_k', '%0k', '%10P', '%010p', '%_S', '%-j',
           '%-m', '%-d', '%-H', '%-I', '%-M', '%-S', '%_H', '%^b', '%#B', '%4u', '%-U', '%_W',
           'Date: %Y-%m-%d %H:%M:%S %Z (%z) week %U/%W/%V day %j', '%A, %d %B %Y', '%I:%M %p',
           'plain text', '100%% sure', 'é%Yü']
STAMPS = [1763770806, 0, 946684799, 951782400, 1230768000, 1609459199, 1735689600, 2147483647,
          4102444800, 1704067200, 1719792000 + 13 * 3600 + 5 * 60 + 7]
ZONES = ['UTC', 'America/New_York', 'Asia/Kolkata', 'EST5EDT,M3.2.0,M11.1.0']

for tz in ZONES:
    os.environ['TZ'] = tz
    time.tzset()
    for s in STAMPS:
        t = time.localtime(s)
        for f in FORMATS:
            print(json.dumps({"tz": tz, "unix": s, "format": f, "python": time.strftime(f, t)},
                             ensure_ascii=False))
