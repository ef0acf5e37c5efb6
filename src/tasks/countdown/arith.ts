import { MAX_VALUE, type Op } from './tokenizer.js';

/** The value of `x op y` in Countdown's integer arithmetic, or null if not allowed
 * (negative, non-integer, division by zero, or above MAX_VALUE). */
export function applyOp(x: number, op: Op, y: number): number | null {
  let z: number;
  switch (op) {
    case '+':
      z = x + y;
      break;
    case '-':
      z = x - y;
      break;
    case '*':
      z = x * y;
      break;
    case '/':
      if (y === 0 || x % y !== 0) return null;
      z = x / y;
      break;
  }
  return z >= 0 && z <= MAX_VALUE ? z : null;
}

/** The value `x op y` really has (for grading written arithmetic), null if undefined. */
export function trueValue(x: number, op: Op, y: number): number | null {
  switch (op) {
    case '+':
      return x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      return y === 0 || x % y !== 0 ? null : x / y;
  }
}

export interface Step {
  x: number;
  op: Op;
  y: number;
  /** The written (claimed) result. */
  z: number;
}
