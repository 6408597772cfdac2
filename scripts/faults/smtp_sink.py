#!/usr/bin/env python3
"""A tiny SMTP sink for the fault scripts (standard library only).

Accepts every message on 127.0.0.1:PORT and appends one line per message to
LOG:  <unix time with ms> TAB <Message-ID> TAB <recipients>.
Speaks what lettre uses: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.

    python3 smtp_sink.py PORT LOG
"""
import asyncio
import sys
import time


async def session(reader, writer, log):
    writer.write(b"220 sink ESMTP ready\r\n")
    await writer.drain()
    rcpts = []
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            cmd = line.decode("latin-1").strip()
            up = cmd.upper()
            if up.startswith("EHLO"):
                writer.write(b"250-sink\r\n250 8BITMIME\r\n")
            elif up.startswith("HELO"):
                writer.write(b"250 sink\r\n")
            elif up.startswith("MAIL FROM"):
                rcpts = []
                writer.write(b"250 OK\r\n")
            elif up.startswith("RCPT TO"):
                rcpts.append(cmd[8:].strip().lstrip(":").strip().strip("<>"))
                writer.write(b"250 OK\r\n")
            elif up == "DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                message_id = ""
                in_head = True
                while True:
                    data = await reader.readline()
                    if not data:
                        return
                    if data in (b".\r\n", b".\n"):
                        break
                    text = data.decode("latin-1").rstrip("\r\n")
                    if in_head and text == "":
                        in_head = False
                    elif in_head and text.lower().startswith("message-id:"):
                        message_id = text.split(":", 1)[1].strip()
                with open(log, "a") as f:
                    f.write(f"{time.time():.3f}\t{message_id}\t{','.join(rcpts)}\n")
                writer.write(b"250 OK queued\r\n")
            elif up.startswith("RSET") or up.startswith("NOOP"):
                writer.write(b"250 OK\r\n")
            elif up.startswith("QUIT"):
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"502 not implemented\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def main():
    port, log = int(sys.argv[1]), sys.argv[2]
    server = await asyncio.start_server(
        lambda r, w: session(r, w, log), "127.0.0.1", port
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
