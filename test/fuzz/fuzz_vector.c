/*
 * fuzz_vector.c
 *	  libFuzzer target for the vector text and binary parsers.
 *
 * Checks, beyond "no crash, no sanitizer report":
 *	- a successful parse yields 1..maxdim finite elements;
 *	- a text parse that succeeds re-parses identically when the elements
 *	  are printed back with "%.9g" (round trip);
 *	- the binary form of a successful parse decodes to the same elements.
 *
 *	  make fuzz && test/fuzz/fuzz_vector -max_total_time=600 test/fuzz/corpus
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vectorparse.h"

#define FUZZ_MAX_DIM 64

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	float		out[FUZZ_MAX_DIM];
	float		again[FUZZ_MAX_DIM];
	char	   *str = malloc(size + 1);
	VectorParseResult r;

	/* binary: any bytes */
	r = VectorParseBinary(data, size, out, FUZZ_MAX_DIM);
	if (r.status == VECTOR_PARSE_OK)
	{
		if (r.dim < 1 || r.dim > FUZZ_MAX_DIM || r.pos != 4 + 4 * (size_t) r.dim)
			abort();
		for (int i = 0; i < r.dim; i++)
			if (!isfinite(out[i]))
				abort();
	}

	/* text: NUL-terminated */
	memcpy(str, data, size);
	str[size] = '\0';
	r = VectorParseText(str, out, FUZZ_MAX_DIM);
	if (r.status == VECTOR_PARSE_OK)
	{
		char		buf[FUZZ_MAX_DIM * 20 + 3];
		unsigned char bin[4 + FUZZ_MAX_DIM * 4];
		char	   *p = buf;
		VectorParseResult r2;

		if (r.dim < 1 || r.dim > FUZZ_MAX_DIM)
			abort();
		*p++ = '[';
		for (int i = 0; i < r.dim; i++)
		{
			if (!isfinite(out[i]))
				abort();
			p += sprintf(p, i ? ",%.9g" : "%.9g", out[i]);
		}
		*p++ = ']';
		*p = '\0';
		r2 = VectorParseText(buf, again, FUZZ_MAX_DIM);
		if (r2.status != VECTOR_PARSE_OK || r2.dim != r.dim ||
			memcmp(out, again, sizeof(float) * r.dim) != 0)
			abort();

		/* encode as the wire form and decode */
		bin[0] = (unsigned char) (r.dim >> 8);
		bin[1] = (unsigned char) r.dim;
		bin[2] = bin[3] = 0;
		for (int i = 0; i < r.dim; i++)
		{
			uint32_t	u;

			memcpy(&u, &out[i], 4);
			bin[4 + 4 * i] = u >> 24;
			bin[5 + 4 * i] = u >> 16;
			bin[6 + 4 * i] = u >> 8;
			bin[7 + 4 * i] = u;
		}
		r2 = VectorParseBinary(bin, 4 + 4 * (size_t) r.dim, again, FUZZ_MAX_DIM);
		if (r2.status != VECTOR_PARSE_OK || r2.dim != r.dim ||
			memcmp(out, again, sizeof(float) * r.dim) != 0)
			abort();
	}
	free(str);
	return 0;
}
