import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether an untrusted string equals a secret, in constant time whatever either
 * holds (any length, any characters): both are hashed first, so the comparison
 * never depends on, or fails over, their byte lengths.
 */
export function sameSecret(given: string | undefined, secret: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(secret, 'utf8').digest();
  return timingSafeEqual(a, b);
}
