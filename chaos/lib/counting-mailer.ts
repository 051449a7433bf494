// A counting mailbox for chaos runs: a minimal SMTP server in the chaos process (so it outlives
// every app crash) that the app reaches through SMTP_URL, plus a Mailer for jobs run in this
// process. Each message that is accepted (the end of DATA answered 250) is a real send, counted
// per order id (read from the receipt's "Order <uuid>" line), with its Message-ID. Unique
// database keys make two Email rows impossible; only counting what was handed to the mail
// server shows whether a shopper got zero, one or two confirmations. A send repeated after a
// crash (the server took it, the process died before writing `sent`) carries the same
// Message-ID, and a mailbox shows it once: the checks count messages, and report repeats.
import { createServer, type Server, type Socket } from 'node:net';
import type { Mailer, OutgoingMail } from '../../lib/jobs/email';

const ORDER_LINE = /^Order ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\s*$/im;

export interface CountingMailbox {
  /** smtp://127.0.0.1:<port> for the app's SMTP_URL. */
  url: string;
  /** Sends per order id (messages without an order line count under ''). */
  sendsByOrder(): Map<string, number>;
  /** Distinct Message-IDs per order id: what the shopper's mailbox shows as separate emails. */
  messagesByOrder(): Map<string, number>;
  total(): number;
  /** A Mailer that counts into the same mailbox (jobs run in this process). */
  mailer: Mailer;
  close(): Promise<void>;
}

export async function startCountingMailbox(port = 0): Promise<CountingMailbox> {
  const sends = new Map<string, number>();
  const messages = new Map<string, Set<string>>();
  let total = 0;
  const record = (text: string, messageId: string | undefined) => {
    total++;
    const id = ORDER_LINE.exec(text)?.[1] ?? '';
    sends.set(id, (sends.get(id) ?? 0) + 1);
    // Without a Message-ID every send is a message of its own.
    messages.set(id, (messages.get(id) ?? new Set()).add(messageId ?? `none-${total}`));
  };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setEncoding('utf8');
    let buffer = '';
    let inData = false;
    let data: string[] = [];
    const reply = (line: string) => {
      if (!socket.destroyed) socket.write(`${line}\r\n`);
    };
    reply('220 chaos-mailbox ESMTP');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let i: number;
      while ((i = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            // Quoted-printable soft line breaks would split the order line; undo them.
            const message = data.join('\n');
            const headers = message.split('\n\n')[0];
            record(message.replace(/=\n/g, ''), /^message-id:\s*(\S+)/im.exec(headers)?.[1]);
            data = [];
            reply('250 2.0.0 queued');
          } else data.push(line.startsWith('..') ? line.slice(1) : line);
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') {
          reply('250-chaos-mailbox');
          reply('250 8BITMIME');
        } else if (verb === 'HELO') reply('250 chaos-mailbox');
        else if (verb === 'MAIL' || verb === 'RCPT' || verb === 'RSET' || verb === 'NOOP') reply('250 2.0.0 ok');
        else if (verb === 'DATA') {
          inData = true;
          reply('354 end with <CRLF>.<CRLF>');
        } else if (verb === 'QUIT') {
          reply('221 2.0.0 bye');
          socket.end();
        } else reply('502 5.5.2 not implemented');
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as { port: number };
  return {
    url: `smtp://127.0.0.1:${bound}`,
    sendsByOrder: () => new Map(sends),
    messagesByOrder: () => new Map([...messages].map(([k, ids]) => [k, ids.size])),
    total: () => total,
    mailer: {
      async send(mail: OutgoingMail) {
        record(mail.text, mail.messageId);
      },
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
