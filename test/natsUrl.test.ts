import { describe, expect, it } from 'vitest';
import { parseNatsUrl } from '../src/runtime/nats/connection.js';

describe('NATS URLs', () => {
  it('take one host or a list of hosts (a cluster), credentials on the first, passwords never shown', () => {
    expect(parseNatsUrl('nats://127.0.0.1:4222')).toEqual({
      servers: ['nats://127.0.0.1:4222'],
      user: undefined,
      pass: undefined,
      display: 'nats://127.0.0.1:4222',
    });
    const list = parseNatsUrl('nats://alice:s3cret@a:4222,b:4223,c');
    expect(list.servers).toEqual(['nats://a:4222', 'nats://b:4223', 'nats://c']);
    expect(list).toMatchObject({ user: 'alice', pass: 's3cret', display: 'nats://alice:***@a:4222,b:4223,c' });
    expect(JSON.stringify(list.display)).not.toContain('s3cret');
    expect(parseNatsUrl('tls://tok@a,b')).toMatchObject({
      token: 'tok',
      servers: ['tls://a', 'tls://b'],
      display: 'tls://***@a,b',
    });
  });

  it('refuses what is not one, naming the flag', () => {
    expect(() => parseNatsUrl('localhost:4222')).toThrow(/--nats: 'localhost:4222' is not a URL/);
    expect(() => parseNatsUrl('http://a:80')).toThrow(/--nats: scheme 'http:' not supported/);
    expect(() => parseNatsUrl('nats://a:4222,,b')).toThrow(/--nats: .* has an empty host/);
    expect(() => parseNatsUrl('nats://a,bob:pw@b')).toThrow(
      /--nats: credentials go on the first host only, not on '\*\*\*@b'/,
    );
    expect(() => parseNatsUrl('nats://a:4222/x')).toThrow(/--nats: .* has a path/);
    expect(() => parseNatsUrl('nats://a:99999')).toThrow(/--nats: .* is not a URL/);
  });
});
