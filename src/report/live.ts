/**
 * `e3sim train --ui`: serves the run's report on 127.0.0.1 while it trains, and pushes a
 * server-sent event per learner step; the page reloads itself 2 s after the first event it sees
 * (no clock read: events arriving meanwhile join that reload).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readRun, renderReport } from './html.js';
import { InputError } from '../util/errors.js';

const CLIENT = `<script>(function(){var pending=false;var es=new EventSource('/events');
es.onmessage=function(){if(pending)return;pending=true;setTimeout(function(){location.reload();},2000);};})();</script>`;

export interface LiveView {
  url: string;
  /** Tells every open page that step `step` finished. */
  notify(step: number): void;
  close(): Promise<void>;
}

export async function startLiveView(runDir: string, port: number): Promise<LiveView> {
  const clients = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    if (req.url === '/events') {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      res.write(': e3sim live view\n\n');
      clients.add(res);
      req.on('close', () => clients.delete(res));
      return;
    }
    if (req.url === '/' || req.url === '/index.html') {
      let html: string;
      try {
        html = renderReport(readRun(runDir));
      } catch (e) {
        res
          .writeHead(503, { 'content-type': 'text/plain' })
          .end(`report not ready: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(html.replace('</body>', `${CLIENT}</body>`));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new InputError(`--port: 127.0.0.1:${port} is already in use; choose another --port (or 0 for any free one)`)
          : e,
      ),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: actual } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${actual}/`,
    notify(step) {
      for (const c of clients) c.write(`data: ${JSON.stringify({ step })}\n\n`);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of clients) c.end();
        clients.clear();
        server.close(() => resolve());
      }),
  };
}
