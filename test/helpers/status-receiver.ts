/** A stand-in for GitHub's commit status API on loopback: it answers 201 and keeps every POST. */
import { createServer } from 'node:http';

export interface StatusPost {
  path: string;
  auth?: string;
  body: any;
  /** When it arrived (epoch ms). */
  at: number;
}

export async function startStatusReceiver(): Promise<{ port: number; posts: StatusPost[]; close(): Promise<void> }> {
  const posts: StatusPost[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      posts.push({
        path: req.url ?? '',
        ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
        body: JSON.parse(body),
        at: Date.now(),
      });
      res.writeHead(201).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  return {
    port: (receiver.address() as { port: number }).port,
    posts,
    close: () => new Promise<void>((r) => receiver.close(() => r())),
  };
}
