/**
 * The link a pastor follows from the church's sign-up to its number picker: `/start/<token>`, where the token is
 * signed (HMAC-SHA256, the service's PASTOR_LINK_SECRET) and expires, and names the church. A bare church id in the
 * URL would let anyone who edits it hold numbers and pay for another church; a forged, edited or expired token is
 * refused on every request.
 */
import jwt from 'jsonwebtoken';
import { checkChurchId } from '../../registry/churches';

/** Whom the token is for, so a token signed for something else with the same secret is refused here. */
const AUDIENCE = 'churchwise-pastor-picker';
export const DEFAULT_LINK_DAYS = 7;
/** The link secret signs what decides which church pays for what: as long as the admin token. */
export const MIN_LINK_SECRET_LENGTH = 32;

export interface PastorLink {
  churchId: string;
  churchName: string;
  /** When the link stops working. */
  expiresAt: Date;
}

/** Why a link was refused, in words for the pastor (never the token or the secret). */
export class PastorLinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PastorLinkError';
  }
}

export function signPastorLink(
  secret: string,
  church: { churchId: string; churchName: string },
  options: { days?: number; now?: Date } = {},
): string {
  const failure = checkChurchId('churchId', church.churchId);
  if (failure) throw new PastorLinkError(failure.reason);
  if (church.churchName.trim() === '' || church.churchName.length > 200)
    throw new PastorLinkError('churchName must be 1-200 characters');
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  return jwt.sign(
    { name: church.churchName, iat: now, exp: now + (options.days ?? DEFAULT_LINK_DAYS) * 24 * 3600 },
    secret,
    { algorithm: 'HS256', audience: AUDIENCE, subject: church.churchId, noTimestamp: true },
  );
}

export function verifyPastorLink(secret: string, token: string, now: Date = new Date()): PastorLink {
  let claims: jwt.JwtPayload;
  try {
    claims = jwt.verify(token, secret, {
      algorithms: ['HS256'],
      audience: AUDIENCE,
      clockTimestamp: Math.floor(now.getTime() / 1000),
    }) as jwt.JwtPayload;
  } catch (error) {
    if (error instanceof jwt.TokenExpiredError)
      throw new PastorLinkError('this link has expired: ask ChurchWise for a new one');
    throw new PastorLinkError(
      'this link is not valid: check that it was copied whole, or ask ChurchWise for a new one',
    );
  }
  const churchId = claims.sub ?? '';
  if (checkChurchId('sub', churchId) || typeof claims.name !== 'string' || typeof claims.exp !== 'number')
    throw new PastorLinkError('this link is not valid: ask ChurchWise for a new one');
  return { churchId, churchName: claims.name, expiresAt: new Date(claims.exp * 1000) };
}
