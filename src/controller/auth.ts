// Bearer-token check for mutating calls and the watch. Both sides are hashed first so the
// constant-time compare also hides the token's length.
import { createHash, timingSafeEqual } from 'node:crypto';
import { XlaneError } from '../errors.js';

export function makeTokenCheck(token: string): (header: string | undefined) => void {
  const want = digest(token);
  return (header) => {
    const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
    if (!m?.[1] || !timingSafeEqual(digest(m[1].trim()), want)) {
      throw new XlaneError(
        'XL_ERR_UNAUTHORIZED',
        header ? 'wrong bearer token' : 'this call needs Authorization: Bearer <token>',
      );
    }
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
