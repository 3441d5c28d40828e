/**
 * The string formats the grammar enforces, each as a regular expression (in the subset
 * regexParser reads) that accepts only strings every common validator accepts for that format
 * (ajv-formats' full mode included): a conservative subset, not the whole RFC. Dates never name
 * February 29 (a leap-year rule is beyond a short expression), seconds stop at 59, host names are
 * lower-case with at most ten labels; times carry an offset, as RFC 3339 requires of up to 22 characters (well under the 253-character limit).
 */
const TWO_DIGITS_24 = "(?:[01][0-9]|2[0-3])";
const SIXTY = "[0-5][0-9]";
const DATE = "[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)";
const OFFSET = `(?:Z|[+-]${TWO_DIGITS_24}:${SIXTY})`;
const TIME = `${TWO_DIGITS_24}:${SIXTY}:${SIXTY}(?:\\.[0-9]{1,9})?`;
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?";
const HOSTNAME = `${LABEL}(?:\\.${LABEL}){0,9}`;
const OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";

export const STRING_FORMATS: Readonly<Record<string, string>> = {
    "date-time": `^${DATE}T${TIME}${OFFSET}$`,
    "date": `^${DATE}$`,
    "time": `^${TIME}${OFFSET}$`,
    "uuid": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    "email": `^[a-zA-Z0-9_+-]{1,32}(?:\\.[a-zA-Z0-9_+-]{1,32}){0,3}@${LABEL}(?:\\.${LABEL}){0,3}\\.[a-z]{2,6}$`,
    "uri": `^https?://${HOSTNAME}(?:/[a-zA-Z0-9._~-]*){0,8}(?:\\?[a-zA-Z0-9._~=&-]*)?$`,
    "ipv4": `^(?:${OCTET}\\.){3}${OCTET}$`,
    // The full form of eight groups only: no "::" shortening, no embedded IPv4, no zone.
    "ipv6": "^[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){7}$",
    "hostname": `^${HOSTNAME}$`
};

/**
 * Formats no JSON Schema vocabulary defines, which zod 4 emits together with the pattern that is
 * its whole definition of them (z.cuid(): format "cuid", pattern "^[cC][0-9a-z]{6,}$"). With their
 * pattern they are enforced through it; alone they are refused, as their meaning is unknown.
 */
export const PATTERN_FORMATS: readonly string[] = ["cuid", "cuid2", "ulid", "nanoid", "e164", "base64", "base64url", "starts_with", "ends_with", "includes", "lowercase", "uppercase"];
