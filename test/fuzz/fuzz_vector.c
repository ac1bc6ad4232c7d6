/*
 * fuzz_vector.c
 *	  libFuzzer target for the vector text parser (vector_in).
 *
 * The input is the text, as vector_in gets it (up to the first NUL).  Each
 * input is parsed twice: sized and limited as vector_in does it
 * (VectorTextMaxDim, 16,000 elements), and with a limit of 4 elements, so
 * that the "too many" path is reached by short inputs too.  The output
 * buffer is allocated to exactly the size the sizing function asked for,
 * so AddressSanitizer reports any write past it.
 *
 * Checks, beyond "no crash, no sanitizer report":
 *	- the result's position lies within the input;
 *	- a successful parse yields 1..maxdim finite elements;
 *	- "too many" happens only at the limit itself (vector_in relies on the
 *	  sizing never being too small);
 *	- a failure naming an element names one that exists;
 *	- a successful parse re-parses to the same bits when the elements are
 *	  printed back with "%.9g" (round trip, subnormals and -0 included);
 *	- the binary form of a successful parse decodes to the same bits.
 *
 *	  make fuzz && test/fuzz/fuzz_vector -max_total_time=600 test/fuzz/corpus/vector
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vectorparse.h"

/* VECTOR_MAX_DIM in src/vector.h (which needs the backend's headers) */
#define FUZZ_VECTOR_MAX_DIM 16000
#define FUZZ_SMALL_LIMIT 4

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Print out[0 .. dim-1] as a text vector and parse it back: same bits? */
static void
CheckTextRoundTrip(const float *out, int dim)
{
	char	   *buf = malloc((size_t) dim * 20 + 3);
	float	   *again = malloc(sizeof(float) * dim);
	char	   *p = buf;
	VectorParseResult r;

	*p++ = '[';
	for (int i = 0; i < dim; i++)
		p += sprintf(p, i ? ",%.9g" : "%.9g", out[i]);
	*p++ = ']';
	*p = '\0';
	r = VectorParseText(buf, again, dim);
	if (r.status != VECTOR_PARSE_OK || r.dim != dim ||
		memcmp(out, again, sizeof(float) * dim) != 0)
		abort();
	free(again);
	free(buf);
}

/* Encode out[0 .. dim-1] in the wire form and decode it: same bits? */
static void
CheckBinaryRoundTrip(const float *out, int dim)
{
	size_t		len = 4 + 4 * (size_t) dim;
	unsigned char *bin = malloc(len);
	float	   *again = malloc(sizeof(float) * dim);
	VectorParseResult r;

	bin[0] = (unsigned char) (dim >> 8);
	bin[1] = (unsigned char) dim;
	bin[2] = bin[3] = 0;
	for (int i = 0; i < dim; i++)
	{
		uint32_t	u;

		memcpy(&u, &out[i], 4);
		bin[4 + 4 * i] = u >> 24;
		bin[5 + 4 * i] = u >> 16;
		bin[6 + 4 * i] = u >> 8;
		bin[7 + 4 * i] = u;
	}
	r = VectorParseBinary(bin, len, again, dim, dim);
	if (r.status != VECTOR_PARSE_OK || r.dim != dim || r.pos != len ||
		memcmp(out, again, sizeof(float) * dim) != 0)
		abort();
	free(again);
	free(bin);
}

/* Parse str as vector_in would with the given limit, and check the result */
static void
CheckParse(const char *str, size_t len, int limit)
{
	int			maxdim = VectorTextMaxDim(str, limit);
	float	   *out;
	VectorParseResult r;

	if (maxdim < 1 || maxdim > limit)
		abort();
	out = malloc(sizeof(float) * maxdim);
	r = VectorParseText(str, out, maxdim);

	if (r.pos > len)
		abort();
	switch (r.status)
	{
		case VECTOR_PARSE_OK:
			if (r.dim < 1 || r.dim > maxdim)
				abort();
			for (int i = 0; i < r.dim; i++)
				if (!isfinite(out[i]))
					abort();
			CheckTextRoundTrip(out, r.dim);
			CheckBinaryRoundTrip(out, r.dim);
			break;
		case VECTOR_PARSE_TOO_MANY:
			if (maxdim != limit || r.dim != limit + 1)
				abort();
			break;
		case VECTOR_PARSE_OUT_OF_RANGE:
		case VECTOR_PARSE_NAN:
		case VECTOR_PARSE_INFINITE:
			if (r.dim < 0 || r.dim >= maxdim)
				abort();
			break;
		case VECTOR_PARSE_SYNTAX:
		case VECTOR_PARSE_EMPTY:
			break;
		default:
			/* binary-only statuses */
			abort();
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *str = malloc(size + 1);

	memcpy(str, data, size);
	str[size] = '\0';
	CheckParse(str, strlen(str), FUZZ_VECTOR_MAX_DIM);
	CheckParse(str, strlen(str), FUZZ_SMALL_LIMIT);
	free(str);
	return 0;
}
