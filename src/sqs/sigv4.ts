/**
 * AWS Signature Version 4, verified: the request's canonical form is rebuilt from what arrived, signed
 * with the secret of the access key it names, and compared in constant time. The payload hash is
 * always the received body's, so a body changed on the way fails. Signatures in the query string
 * (presigned URLs) are not accepted.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SqsError } from './errors.ts';
import type { SqsRequest } from './protocol.ts';

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** How far a request's x-amz-date may be from the node's clock, as AWS allows. */
const MAX_SKEW_MS = 15 * 60 * 1000;

/** Verifies the request's signature; returns the access key it was signed with. */
export function verifySigV4(request: SqsRequest, secretOf: (accessKeyId: string) => string | undefined, now: number): string {
  const header = single(request.headers['authorization']);
  if (header === undefined) throw new SqsError('MissingAuthenticationToken', 'Request is missing Authentication Token');
  const match = /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(header.trim());
  if (!match) throw new SqsError('IncompleteSignature', 'The Authorization header is not an AWS4-HMAC-SHA256 signature.');
  const [, credential, signedHeaders, signature] = match as unknown as [string, string, string, string];
  const [accessKeyId, date, region, service, terminator] = credential.split('/');
  if (accessKeyId === undefined || date === undefined || region === undefined || service === undefined || terminator !== 'aws4_request') {
    throw new SqsError('IncompleteSignature', 'The credential scope of the Authorization header is malformed.');
  }
  const amzDate = single(request.headers['x-amz-date']);
  if (amzDate === undefined || !/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date) {
    throw new SqsError('IncompleteSignature', 'The request needs an X-Amz-Date header matching its credential scope.');
  }
  const at = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  if (Math.abs(now - at) > MAX_SKEW_MS) throw new SqsError('RequestExpired', `Request has expired: signed at ${amzDate}.`);
  const secret = secretOf(accessKeyId);
  if (secret === undefined) throw new SqsError('InvalidClientTokenId', 'The security token included in the request is invalid.');
  const names = signedHeaders.split(';');
  if (!names.includes('host')) throw new SqsError('IncompleteSignature', 'The host header must be signed.');

  const canonical = [
    request.method,
    canonicalPath(request.path),
    canonicalQuery(request.query),
    ...names.map((n) => `${n}:${headerValue(request.headers[n])}`),
    '',
    signedHeaders,
    createHash('sha256').update(request.body).digest('hex'),
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = [ALGORITHM, amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = hmac(`AWS4${secret}`, date);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const expected = hmac(key, toSign);
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    throw new SqsError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
  }
  return accessKeyId;
}

/** The access key id an Authorization header names, unverified. */
export function accessKeyOf(request: SqsRequest): string | undefined {
  return /Credential=([^/,\s]+)\//.exec(single(request.headers['authorization']) ?? '')?.[1];
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** RFC 3986 encoding, as SigV4 wants it: everything but unreserved characters. */
function uriEscape(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalPath(path: string): string {
  if (path === '' || path === '/') return '/';
  return path
    .split('/')
    .map((segment) => uriEscape(safeDecode(segment)))
    .join('/');
}

function canonicalQuery(query: URLSearchParams): string {
  return [...query]
    .map(([k, v]) => [uriEscape(k), uriEscape(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function headerValue(value: string | string[] | undefined): string {
  const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',');
}

/** A header's first value (node gives repeated headers as arrays). */
export function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
