// The shape of mailsplit's Splitter output as the transports read it (Graph's streaming scan, ACS's
// base64 copy): one declaration of the fields used, since the package's own types do not name them.
// Types only.

/** A MIME node as mailsplit's Splitter emits it (the fields the transports read). */
export interface SplitNode {
  readonly type: 'node';
  readonly root: boolean;
  readonly parentNode: SplitNode | false;
  readonly multipart: string | false;
  readonly encoding: string | false;
  readonly contentType: string | false;
  readonly charset: string | false;
  readonly disposition: string | false;
  readonly filename: string | false;
  readonly headers:
    | { getFirst(key: string): string; getList(): { key: string; line: string | Buffer }[] }
    | false;
  /** The node's header block as it was read (rebuilt only if changed). */
  getHeaders(): Buffer;
}

/** One object of the Splitter's output: a node, or a piece of body or of the bytes between parts. */
export type SplitChunk = SplitNode | { type: 'body' | 'data'; value: Buffer; node?: SplitNode };
