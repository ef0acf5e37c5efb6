/** Types of scripts/test-deps.mjs (the lookups the tests share with `npm test`'s pretest). */
export function chromiumPath(): string;
export function findNatsServer(): string | null;
export function missingPackages(): string[];
