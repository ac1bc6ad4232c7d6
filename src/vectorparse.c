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

static inline uint16_t
ReadUint16(const unsigned char *p)
{
	return (uint16_t) ((p[0] << 8) | p[1]);
}

/*
 * Parse the binary form in buf[0 .. len-1] into out[0 .. maxdim-1].
 *
 * On success, pos is the number of bytes consumed; trailing bytes are left
 * for the caller, which (like every recv function's caller) rejects them.
 */
VectorParseResult
VectorParseBinary(const unsigned char *buf, size_t len, float *out,
				  int maxdim)
{
	int			dim;
	int16_t		unused;
	size_t		need;

	if (len < 4)
		return ParseResult(VECTOR_PARSE_SHORT, 0, len);

	dim = (int16_t) ReadUint16(buf);
	unused = (int16_t) ReadUint16(buf + 2);

	if (dim < 1 || dim > maxdim)
		return ParseResult(VECTOR_PARSE_BAD_DIM, dim, 0);
	if (unused != 0)
		return ParseResult(VECTOR_PARSE_BAD_UNUSED, unused, 2);

	need = 4 + (size_t) dim * 4;
	if (len < need)
		return ParseResult(VECTOR_PARSE_SHORT, dim, len);

	for (int i = 0; i < dim; i++)
	{
		const unsigned char *q = buf + 4 + (size_t) i * 4;
		uint32_t	bits = ((uint32_t) q[0] << 24) | ((uint32_t) q[1] << 16) |
			((uint32_t) q[2] << 8) | (uint32_t) q[3];
		float		val;

		memcpy(&val, &bits, sizeof(val));
		if (isnan(val))
			return ParseResult(VECTOR_PARSE_NAN, i, 4 + (size_t) i * 4);
		if (isinf(val))
			return ParseResult(VECTOR_PARSE_INFINITE, i, 4 + (size_t) i * 4);
		out[i] = val;
	}

	return ParseResult(VECTOR_PARSE_OK, dim, need);
}
