/**
 * Rules for the artifact's signed text fields (SPEC §2.2), shared by the workers (the shape check)
 * and `clef-agent pack` (which must never write what the agent refuses).
 */

// C0 (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * The signing payload joins its fields with `\n`: a field holding a newline could pose as the next
 * one (`svc\nprod` + `staging` signs the same bytes as `svc` + `prod\nstaging`). Every other
 * control character is refused too: none belongs in a name, a date, a hash or base64, and in a log
 * line or terminal they can forge or hide text.
 */
export function hasControlChars(s: string): boolean {
  return CONTROL.test(s);
}
