// Content-Type read as the backends read it. Go's net/http decides whether a body is a form with
// mime.ParseMediaType: the part before ";", trimmed and in lower case, must be type/subtype of token
// characters; parameters such as a charset do not change it. Deciding otherwise here would let a body
// count as a form on one side and not on the other (a selector seen by one parser and not the other).

export const FORM = "application/x-www-form-urlencoded";

// RFC 2045 token characters: printable ASCII but space and tspecials.
const TOKEN = "[!#$%&'*+\\-.0-9A-Z^_`a-z{|}~]+";
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}$`);

/** The media type of a Content-Type value, lower case; undefined when absent or malformed (Go reads no form). */
export function mediaType(contentType: string | null | undefined): string | undefined {
  if (!contentType) return undefined;
  const type = contentType.split(";", 1)[0]!.trim().toLowerCase();
  return MEDIA_TYPE.test(type) ? type : undefined;
}

/** Whether Go's ParseForm reads this body as a URL-encoded form. */
export const isForm = (contentType: string | null | undefined): boolean => mediaType(contentType) === FORM;
