// The RFC 2047 decoder (mime-text.ts: libmime and its charset tables) is loaded on demand, not with the
// routing room: a header value is never decoded by a decoder nobody loaded — the call says what is
// missing instead of matching the raw text quietly. (Own file: the loaded decoder is module state.)
import { describe, expect, it } from 'vitest';
import { decodeHeaderValue, loadHeaderDecoder } from '../../../appliance/src/routing/patterns.ts';

describe('header decoder, loaded on demand', () => {
  it('fails loudly before loadHeaderDecoder(), passes plain text through, decodes after', async () => {
    expect(decodeHeaderValue('Scan von Buero')).toBe('Scan von Buero');
    expect(() => decodeHeaderValue('=?UTF-8?B?U2NhbiB2b24gQsO8cm8=?=')).toThrow(
      'routing: a rule reads a header but loadHeaderDecoder() was not awaited first',
    );
    await loadHeaderDecoder();
    expect(decodeHeaderValue('=?UTF-8?B?U2NhbiB2b24gQsO8cm8=?=')).toBe('Scan von Büro');
  });
});
