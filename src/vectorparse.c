/*-------------------------------------------------------------------------
 *
 * vectorparse.c
 *	  Parse the text form "[1,2,3]" and the binary wire form of a vector.
 *
 * Deliberately free of backend dependencies (no palloc, no ereport): the
 * caller supplies the output buffer and turns a failed VectorParseResult
 * into an error.  See vectorparse.h.
 *
 * The text form is a '[', float4 literals separated by ',', and a ']';
 * whitespace is allowed around every token.  Literals are read with
 * strtof(), so they are spelled as for float4's own input (the backend runs
 * with LC_NUMERIC = C).  Unlike float4in(), and like pgvector, a literal
 * too small for float4 is no error: it rounds to zero or a subnormal.
 *
 * The binary form is pgvector's: int16 dimension, int16 reserved (zero),
 * then that many float4 in network byte order.
 *
 * src/vectorparse.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vectorparse.h"

/* Whitespace as scanner.c's isspace(), without depending on the locale */
static inline int
IsVectorSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\v' || c == '\f';
}

static inline const char *
SkipSpace(const char *p)
{
	while (IsVectorSpace(*p))
		p++;
	return p;
}

static VectorParseResult
ParseResult(VectorParseStatus status, int dim, size_t pos)
{
	VectorParseResult r;

	r.status = status;
	r.dim = dim;
	r.pos = pos;
	return r;
}

/*
 * Return how many elements the text vector str can hold at most: one more
 * than its commas, capped at limit.  A caller sizes VectorParseText's output
 * by it, so that loading many short vectors does not allocate room for the
 * longest each time.
 */
int
VectorTextMaxDim(const char *str, int limit)
{
	int			maxdim = 1;

	for (const char *p = str; *p != '\0' && maxdim < limit; p++)
		if (*p == ',')
			maxdim++;
	return maxdim;
}

/*
 * Parse a NUL-terminated text vector into out[0 .. maxdim-1].
 *
 * On success, status is VECTOR_PARSE_OK and dim the number of elements.
 * An element that underflows float4 is read as strtof() rounds it (to zero
 * or a subnormal), as pgvector reads it; one that overflows is an error.
 */
VectorParseResult
VectorParseText(const char *str, float *out, int maxdim)
{
	const char *p = SkipSpace(str);
	int			dim = 0;

	if (*p != '[')
		return ParseResult(VECTOR_PARSE_SYNTAX, 0, p - str);
	p = SkipSpace(p + 1);

	if (*p == ']')
		return ParseResult(VECTOR_PARSE_EMPTY, 0, p - str);

	for (;;)
	{
		char	   *end;
		float		val;

		/*
		 * A comma promises one more element: past the limit, that is the
		 * error, whatever follows it.
		 */
		if (dim >= maxdim)
			return ParseResult(VECTOR_PARSE_TOO_MANY, dim + 1, p - str);

		/*
		 * strtof() skips leading whitespace itself and would accept an
		 * empty field as garbage only by returning end == p; check both.
		 */
		if (*p == ',' || *p == ']' || *p == '\0')
			return ParseResult(VECTOR_PARSE_SYNTAX, dim, p - str);

		errno = 0;
		val = strtof(p, &end);
		if (end == p)
			return ParseResult(VECTOR_PARSE_SYNTAX, dim, p - str);

		if (errno == ERANGE && isinf(val))
			return ParseResult(VECTOR_PARSE_OUT_OF_RANGE, dim, p - str);
		if (isnan(val))
			return ParseResult(VECTOR_PARSE_NAN, dim, p - str);
		if (isinf(val))
			return ParseResult(VECTOR_PARSE_INFINITE, dim, p - str);

		out[dim++] = val;
		p = SkipSpace(end);

		if (*p == ',')
		{
			p = SkipSpace(p + 1);
			continue;
		}
		if (*p == ']')
			break;
		return ParseResult(VECTOR_PARSE_SYNTAX, dim, p - str);
	}

	p = SkipSpace(p + 1);
	if (*p != '\0')
		return ParseResult(VECTOR_PARSE_SYNTAX, dim, p - str);

	return ParseResult(VECTOR_PARSE_OK, dim, p - str);
}

static inline int
ReadInt16(const unsigned char *p)
{
	return (int16_t) (uint16_t) ((p[0] << 8) | p[1]);
}

/*
 * Return how many elements VectorParseBinary's output must hold for
 * buf[0 .. len-1]: the header's dimension when it is between 1 and limit,
 * else 1 (the parse then fails before it writes an element).
 */
int
VectorBinaryMaxDim(const unsigned char *buf, size_t len, int limit)
{
	int			dim;

	if (len < 2)
		return 1;
	dim = ReadInt16(buf);
	return (dim >= 1 && dim <= limit) ? dim : 1;
}

/*
 * Parse the binary form in buf[0 .. len-1] into out[0 .. maxdim-1].
 *
 * expdim is the dimension the caller requires (a typmod), or -1 for any.
 * The checks come in pgvector's order, so that input with several faults
 * is reported by the same one: a header cut short, the dimension, the
 * expected dimension, the reserved field, then element by element a value
 * cut short or not finite.
 *
 * On success, pos is the number of bytes consumed; trailing bytes are left
 * for the caller, which (like every recv function's caller) rejects them.
 */
VectorParseResult
VectorParseBinary(const unsigned char *buf, size_t len, float *out,
				  int maxdim, int expdim)
{
	int			dim;
	int			unused;

	if (len < 4)
		return ParseResult(VECTOR_PARSE_SHORT, 0, len);

	dim = ReadInt16(buf);
	unused = ReadInt16(buf + 2);

	if (dim < 1 || dim > maxdim)
		return ParseResult(VECTOR_PARSE_BAD_DIM, dim, 0);
	if (expdim != -1 && dim != expdim)
		return ParseResult(VECTOR_PARSE_WRONG_DIM, dim, 0);
	if (unused != 0)
		return ParseResult(VECTOR_PARSE_BAD_UNUSED, unused, 2);

	for (int i = 0; i < dim; i++)
	{
		size_t		off = 4 + (size_t) i * 4;
		const unsigned char *q = buf + off;
		uint32_t	bits;
		float		val;

		if (len - off < 4)
			return ParseResult(VECTOR_PARSE_SHORT, i, len);

		bits = ((uint32_t) q[0] << 24) | ((uint32_t) q[1] << 16) |
			((uint32_t) q[2] << 8) | (uint32_t) q[3];
		memcpy(&val, &bits, sizeof(val));
		if (isnan(val))
			return ParseResult(VECTOR_PARSE_NAN, i, off);
		if (isinf(val))
			return ParseResult(VECTOR_PARSE_INFINITE, i, off);
		out[i] = val;
	}

	return ParseResult(VECTOR_PARSE_OK, dim, 4 + (size_t) dim * 4);
}
