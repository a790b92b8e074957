/**
 * The MD5 digests SQS puts in its replies, which the AWS SDKs check: of a body (its UTF-8 bytes) and
 * of message attributes, by SQS's documented encoding: for each attribute in name order, the name,
 * the data type and the value, each as a 4-byte big-endian length and its bytes, with a transport
 * byte (1 string or number, 2 binary) before the value.
 */
import { createHash } from 'node:crypto';

export interface SqsAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Uint8Array;
}

export function md5OfBody(body: string): string {
  return createHash('md5').update(body, 'utf8').digest('hex');
}

export function md5OfAttributes(attributes: Record<string, SqsAttributeValue>): string {
  const hash = createHash('md5');
  const field = (bytes: Uint8Array) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length).update(bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    const value = attributes[name] as SqsAttributeValue;
    field(Buffer.from(name, 'utf8'));
    field(Buffer.from(value.DataType, 'utf8'));
    if (value.BinaryValue !== undefined) {
      hash.update(Buffer.from([2]));
      field(value.BinaryValue);
    } else {
      hash.update(Buffer.from([1]));
      field(Buffer.from(value.StringValue ?? '', 'utf8'));
    }
  }
  return hash.digest('hex');
}
