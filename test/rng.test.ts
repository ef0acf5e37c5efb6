import { describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.js';

// The streams every seeded result of e3sim stands on (checkpoints' draws, the virtual clock's
// lengths and jitter, sampling). The values were drawn by the implementation that kept the state in
// four number fields (before 2026-12-07's typed-array state): a change of representation must give
// the same draws.
describe('Rng streams', () => {
  it('keeps its draws from a string seed, from integers, from state words, forked and reseeded', () => {
    const a = new Rng('seed');
    const b = Rng.fromInts(1, 2, 3, 0xffffffff);
    const c = new Rng([0xdeadbeef, 1, 0x80000000, 7]);
    expect([a.nextU32(), a.nextU32(), a.float(), a.int(1000)]).toEqual([
      2807493475, 562046972, 0.16688479315709315, 28,
    ]);
    expect([b.nextU32(), b.nextU32(), b.float(), b.normal()]).toEqual([
      2730508741, 3909410433, 0.40306921005094354, -0.3733358523622235,
    ]);
    expect([c.nextU32(), c.nextU32(), c.nextU32()]).toEqual([3735928567, 2147483657, 1424733880]);
    expect([a.fork('x').nextU32(), b.fork(3).nextU32(), c.fork('y').nextU32()]).toEqual([
      4223847248, 3382916893, 8085413,
    ]);
    expect(b.reseed(9, 8, 7, 6).nextU32()).toBe(1298030941);
    expect(Rng.fromInts(9, 8, 7, 6).state()).toEqual(b.reseed(9, 8, 7, 6).state());
  });
});
