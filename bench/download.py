#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/download.py - the peer of examples/downloader in bench/download.sh:
Python asyncio + aiohttp fetching BASE/f0 .. BASE/f{N-1} under a semaphore
of C (a connector of C keep-alive connections), each body saved with a
plain open()/write() as the seeds' flags program does.  Prints the number
of files saved; exits 1 if any answer was not 200.

    python3 bench/download.py BASE_URL COUNT OUT_DIR CONCURRENCY
"""
import asyncio
import os
import sys

import aiohttp


async def fetch_one(session, sem, base, out, i):
    async with sem:
        async with session.get(f"{base}/f{i}") as resp:
            body = await resp.read()
            if resp.status != 200:
                return False
    with open(os.path.join(out, f"f{i}"), "wb") as f:
        f.write(body)
    return True


async def main(base, count, out, conc):
    sem = asyncio.Semaphore(conc)
    connector = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=connector) as session:
        done = await asyncio.gather(
            *(fetch_one(session, sem, base, out, i) for i in range(count)))
    ok = sum(done)
    print(ok)
    return 0 if ok == count else 1


if __name__ == "__main__":
    base, count, out, conc = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    sys.exit(asyncio.run(main(base.rstrip("/"), count, out, conc)))
