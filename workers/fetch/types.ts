/** What a fetcher hands back: new bytes, or "unchanged" when the source confirmed the marker. */
export type FetchOutcome =
  | { readonly kind: 'unchanged'; readonly marker?: string | undefined }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array; readonly marker?: string | undefined; readonly contentType?: string | undefined };
