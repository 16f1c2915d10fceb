import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors/index.js';

export interface BasicAuthCredentials {
  readonly username: string;
  readonly password: string;
}

/**
 * A checker for `Authorization: Basic ...` headers. Both parts are compared in constant
 * time, over SHA-256 digests so that the comparison length (and so its time) says nothing
 * about the expected length, and both comparisons always run.
 */
export function createBasicAuthCheck(credentials: BasicAuthCredentials): (header: string | undefined) => boolean {
  if (credentials.username.includes(':')) throw new ConfigError('basic auth username must not contain ":" (RFC 7617)');
  if (credentials.password.length === 0) throw new ConfigError('basic auth password must not be empty');
  const user = digest(credentials.username);
  const password = digest(credentials.password);
  return (header) => {
    const match = /^basic\s+([A-Za-z0-9+/=._~-]+)\s*$/i.exec(header ?? '');
    if (match === null) return false;
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    const userOk = timingSafeEqual(digest(decoded.slice(0, colon)), user);
    const passwordOk = timingSafeEqual(digest(decoded.slice(colon + 1)), password);
    return userOk && passwordOk;
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
