/*
 * fuzz_page.c
 *	  libFuzzer target for the checks of hnsw index pages (src/hnswcheck.c):
 *	  the page header and special space, line pointers, element tuples and
 *	  the metapage, as every reader in the server runs them before using a
 *	  field of a page.
 *
 * The input is a page: either raw bytes (zero-padded to BLCKSZ), or, more
 * usefully, a well-formed page built from a few parameter bytes (an element
 * page of the layout the input chooses, with elements of several levels and
 * heap TID capacities, a head tuple cut at its end, a chunk and a tail; or a
 * metapage) with the rest of the input applied to it as byte patches.
 *
 * Checks, beyond "no crash, no sanitizer report":
 *	- a tuple HnswCheckItem accepts lies inside the page's tuple space;
 *	- HnswCheckElementAt agrees with HnswCheckItem and HnswCheckElementTuple,
 *	  and accepts every tuple the fast path (HnswElementIsWhole) accepts;
 *	- every field of an accepted element tuple is read as the readers do
 *	  (heap TIDs into an array of HNSW_HEAPTIDS, the vector into a buffer of
 *	  the layout's size, every slot, the link and code header), from a copy
 *	  of exactly the tuple's length, so that a read past the tuple is a heap
 *	  overflow AddressSanitizer reports; and the slots end where it does;
 *	- an accepted metapage has its fields in range.
 *
 * The seeds in test/fuzz/corpus/page choose such pages: f32, i8, bf16,
 * codes with vectors out of line, an
 * index without dimensions yet, a metapage, raw bytes.
 *
 *	  make fuzz && mkdir -p /tmp/corpus &&
 *	  cp test/fuzz/corpus/page/[a-z]* /tmp/corpus &&
 *	  test/fuzz/fuzz_page -max_total_time=600 /tmp/corpus
 */
#include "postgres.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/htup_details.h"
#include "hnsw.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* port.h makes fprintf libpgport's, which is not linked: fputs */
#define CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			fputs("fuzz_page: check failed: " #cond "\n", stderr); \
			abort(); \
		} \
	} while (0)

/* Read bytes of the input in turn; zeroes once it is used up */
typedef struct Input
{
	const uint8_t *data;
	size_t		size;
	size_t		pos;
} Input;

static uint8_t
Byte(Input *in)
{
	return in->pos < in->size ? in->data[in->pos++] : 0;
}

/* The code (and link) size of a vector of dim dimensions in layout */
static Size
CodeSize(const HnswLayout *layout, int dim)
{
	return HNSW_CODE_SIZE(dim, layout->quantization) +
		(layout->outOfLine ? HNSW_VECTOR_LINK_SIZE : 0);
}

/* Put a tuple on a page as PageAddItem would; false if it does not fit */
static bool
AddItem(Page page, const void *item, Size len)
{
	PageHeader	ph = (PageHeader) page;
	OffsetNumber off = PageGetMaxOffsetNumber(page) + 1;
	Size		aligned = MAXALIGN(len);

	if (ph->pd_lower + sizeof(ItemIdData) + aligned > ph->pd_upper)
		return false;
	ph->pd_upper -= aligned;
	memcpy((char *) page + ph->pd_upper, item, len);
	ItemIdSetNormal(PageGetItemId(page, off), ph->pd_upper, len);
	ph->pd_lower += sizeof(ItemIdData);
	return true;
}

static void
InitPage(Page page)
{
	PageHeader	ph = (PageHeader) page;

	memset(page, 0, BLCKSZ);
	ph->pd_lower = SizeOfPageHeaderData;
	ph->pd_upper = BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData));
	ph->pd_special = ph->pd_upper;
	PageSetPageSizeAndVersion(page, BLCKSZ, PG_PAGE_LAYOUT_VERSION);
	HnswPageGetOpaque(page)->page_id = HNSW_PAGE_ID;
}

/*
 * Form in buf an element tuple of the layout with the given level, heap TID
 * capacity and dimensions (the layout's unless it has none); return its
 * size, formed only if it fits a page.  cut: a head tuple keeping cut bytes
 * of its vector, as CREATE INDEX forms.
 */
static Size
FormElement(const HnswLayout *layout, char *buf, int level, int cap, int dim,
			Size cut, Input *in)
{
	HnswElementTuple tup = (HnswElementTuple) buf;
	Size		code = CodeSize(layout, dim);
	Size		vecSize = cut > 0 ? cut : code;
	Vector	   *vec;
	char	   *slots;
	Size		size;

	size = HNSW_ELEMENT_HEADER_SIZE(cap) + vecSize +
		HNSW_SLOTS(level, layout->m) * sizeof(HnswNeighborSlot);
	if (size > HNSW_MAX_TUPLE_SIZE)
		return size;			/* does not fit a page: not formed */
	memset(buf, 0, size);
	tup->type = cut > 0 ? HNSW_HEAD_TUPLE : HNSW_ELEMENT_TUPLE;
	tup->level = level;
	tup->deleted = Byte(in) & 1;
	tup->ntids = cap;
	for (int i = 0; i < cap; i++)
		ItemPointerSet(&tup->heaptids[i], Byte(in), 1 + Byte(in) % 200);
	vec = HnswTupleVector(tup);
	SET_VARSIZE(vec, vecSize);
	vec->dim = dim;
	vec->unused = layout->quantization;
	for (int i = 0; i < HNSW_CODE_HEADER_FLOATS(layout->quantization); i++)
		vec->x[i] = i == 1 ? -0.5f : 0.25f;
	slots = HnswTupleGetSlots(tup);
	for (int i = 0; i < HNSW_SLOTS(level, layout->m); i++)
	{
		ItemPointerData t;

		ItemPointerSet(&t, 1 + Byte(in) % 4, 1 + Byte(in) % 8);
		HnswSlotSet(slots, i, &t, 1.0f);
	}
	return size;
}

/* An element page of layout, with the tuples the input asks for */
static void
FormElementPage(const HnswLayout *layout, Page page, Input *in)
{
	char	   *buf = malloc(BLCKSZ);
	int			dim = layout->dim > 0 ? layout->dim : 1 + Byte(in) % 64;
	uint8_t		what = Byte(in);
	Size		size;

	InitPage(page);
	if (what & 1)
	{
		/* a tail, first on its page */
		HnswTailTuple tail = (HnswTailTuple) buf;

		memset(buf, 0, HNSW_TAIL_HEADER_SIZE + 16);
		tail->type = HNSW_TAIL_TUPLE;
		ItemPointerSet(&tail->head, 1, 3);
		(void) AddItem(page, buf, HNSW_TAIL_HEADER_SIZE + 16);
	}
	if (what & 2)
	{
		/* a chunk of a vector out of line */
		HnswVectorTuple chunk = (HnswVectorTuple) buf;

		memset(buf, 0, HNSW_VECTOR_HEADER_SIZE + 64);
		chunk->type = HNSW_VECTOR_TUPLE;
		ItemPointerSet(&chunk->prev, 2, 1);
		chunk->offset = 64;
		(void) AddItem(page, buf, HNSW_VECTOR_HEADER_SIZE + 64);
	}
	for (int n = 0; n < 6; n++)
	{
		int			level = Byte(in) % 4;
		int			cap = 2 * (1 + Byte(in) % 5);

		size = FormElement(layout, buf, level, cap, dim, 0, in);
		if (size > HNSW_MAX_TUPLE_SIZE || !AddItem(page, buf, size))
			break;
	}
	/* a head tuple at the end, where one can be */
	if ((what & 4) && layout->dim > 0 && !layout->outOfLine &&
		!HnswQuantIsInt8(layout->quantization) &&
		CodeSize(layout, dim) > VECTOR_SIZE(0) + 4)
	{
		Size		code = CodeSize(layout, dim);
		Size		cut = VECTOR_SIZE(0) + 4 * (1 + Byte(in) % ((code - VECTOR_SIZE(0)) / 4 - 1));

		size = FormElement(layout, buf, Byte(in) % 2, 2, dim, cut, in);
		if (size <= HNSW_MAX_TUPLE_SIZE)
			(void) AddItem(page, buf, size);
	}
	free(buf);
}

/* A metapage for layout */
static void
FormMetaPage(const HnswLayout *layout, Page page, Input *in)
{
	HnswMetaPage meta;

	InitPage(page);
	meta = HnswPageGetMeta(page);
	meta->magic = HNSW_MAGIC_NUMBER;
	meta->version = HNSW_VERSION;
	meta->dimensions = layout->dim;
	meta->m = layout->m;
	meta->efConstruction = 64;
	ItemPointerSet(&meta->entryPoint, 1, 1);
	meta->entryLevel = Byte(in) % 4;
	meta->insertPage = 3;
	meta->quantization = layout->quantization;
	meta->exactQuantization = layout->outOfLine ? HNSW_QUANT_F32 :
		layout->quantization;
	((PageHeader) page)->pd_lower =
		((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;
}

/* Read every field of an element tuple the checks accepted, as readers do */
static void
UseElement(const HnswLayout *layout, HnswElementTuple tup, Size len)
{
	ItemPointerData heaptids[HNSW_HEAPTIDS];
	int			nheaptids = 0;
	Vector	   *vec = HnswTupleVector(tup);
	int			dim = layout->dim > 0 ? layout->dim : vec->dim;
	Size		room = HNSW_CODE_SIZE(dim, vec->unused) + HNSW_VECTOR_LINK_SIZE;
	Vector	   *copy;
	char	   *slots;
	unsigned	sum = 0;

	CHECK(tup->level <= HNSW_MAX_LEVEL && tup->deleted <= 1);
	CHECK(HnswTupleTidCapacity(tup) <= HNSW_HEAPTIDS);
	for (int i = 0; i < HnswTupleTidCapacity(tup); i++)
		if (ItemPointerIsValid(&tup->heaptids[i]))
			heaptids[nheaptids++] = tup->heaptids[i];
	CHECK(nheaptids <= HNSW_HEAPTIDS);

	CHECK(vec->dim == dim && vec->dim > 0 && vec->dim <= VECTOR_MAX_DIM);
	CHECK(vec->unused >= 0 && vec->unused <= HNSW_QUANT_MAX);
	if (layout->dim > 0)
		CHECK(vec->unused == layout->quantization);
	CHECK(VARSIZE(vec) <= room);
	copy = malloc(room);
	memcpy(copy, vec, VARSIZE(vec));
	for (Size i = 0; i < VARSIZE(vec); i++)
		sum += ((unsigned char *) copy)[i];
	if (tup->type == HNSW_HEAD_TUPLE)
		CHECK(VARSIZE(vec) < HNSW_CODE_SIZE(dim, vec->unused));
	else
	{
		for (int i = 0; i < HNSW_CODE_HEADER_FLOATS(vec->unused); i++)
			CHECK(isfinite(vec->x[i]));
		if (HnswVectorHasLink(vec))
			sum += ItemPointerGetOffsetNumberNoCheck(HnswVectorGetLink(vec));
	}
	free(copy);

	slots = HnswTupleGetSlots(tup);
	CHECK(slots + HNSW_SLOTS(tup->level, layout->m) * sizeof(HnswNeighborSlot) ==
		  (char *) tup + len);
	for (int lc = 0; lc <= tup->level; lc++)
	{
		int			start = HNSW_LEVEL_START(lc, layout->m);

		for (int i = 0; i < HNSW_LEVEL_CAPACITY(lc, layout->m); i++)
		{
			ItemPointer t = HnswSlotTid(slots, start + i);

			if (ItemPointerIsValid(t) && HnswLinkInRange(t, 4) &&
				HnswSlotDistance(slots, start + i) < 1e9f)
				sum++;
		}
	}
	/* keep the reads */
	if (sum == 0xFFFFFFFF)
		fputc(' ', stderr);
}

/* Check every tuple of page, and the page as a metapage */
static void
CheckPage(const HnswLayout *layout, Page page)
{
	PageHeader	ph = (PageHeader) page;
	HnswCheckResult header = HnswCheckPageHeader(page);
	HnswCheckResult special = HnswCheckPageSpecial(page);
	HnswMetaPageData meta;
	OffsetNumber last = 4;

	CHECK(special != HNSW_CHECK_OK || header == HNSW_CHECK_OK);
	if (header == HNSW_CHECK_OK)
		last = PageGetMaxOffsetNumber(page) + 2;

	for (OffsetNumber off = 0; off <= last; off++)
	{
		char	   *item = NULL;
		Size		len = 0;
		HnswCheckResult r = HnswCheckItem(page, off, &item, &len);
		HnswElementTuple tup = NULL;
		Size		len2 = 0;
		HnswCheckResult at = HnswCheckElementAt(layout, page, off, &tup, &len2);
		HnswElementTuple whole = NULL;
		char	   *copy;

		/* the fast path accepts nothing the whole check refuses */
		if (HnswElementIsWhole(layout, page, off, &whole))
			CHECK(at == HNSW_CHECK_OK && whole == tup);

		if (r != HNSW_CHECK_OK)
		{
			CHECK(at == r);
			continue;
		}
		CHECK(header == HNSW_CHECK_OK);
		CHECK(len >= 1 && item >= (char *) page + ph->pd_upper &&
			  item + len <= (char *) page + ph->pd_special);
		copy = malloc(len);
		memcpy(copy, item, len);
		if (copy[0] == HNSW_VECTOR_TUPLE || copy[0] == HNSW_TAIL_TUPLE)
			CHECK(at == HNSW_CHECK_ABSENT);
		else
		{
			HnswCheckResult e = HnswCheckElementTuple(layout, copy, len);

			CHECK(e == at);
			if (e == HNSW_CHECK_OK)
			{
				CHECK(tup == (HnswElementTuple) item && len2 == len);
				UseElement(layout, (HnswElementTuple) copy, len);
			}
		}
		free(copy);
	}

	if (HnswCheckMetaPage(page, &meta) == HNSW_CHECK_OK)
	{
		CHECK(meta.magic == HNSW_MAGIC_NUMBER);
		CHECK(meta.version == HNSW_VERSION);
		CHECK(meta.m >= HNSW_MIN_M && meta.m <= HNSW_MAX_M);
		CHECK(meta.quantization <= HNSW_QUANT_MAX &&
			  meta.exactQuantization <= HNSW_QUANT_MAX);
		CHECK(meta.dimensions <= VECTOR_MAX_DIM);
		CHECK(meta.dimensions == 0 ||
			  HNSW_ELEMENT_TUPLE_SIZE(meta.dimensions, meta.quantization, 0,
									  meta.m) <= HNSW_MAX_TUPLE_SIZE);
		CHECK(meta.entryLevel >= -1 && meta.entryLevel <= HNSW_MAX_LEVEL);
		CHECK((meta.entryLevel >= 0) == ItemPointerIsValid(&meta.entryPoint));
		CHECK(!ItemPointerIsValid(&meta.entryPoint) ||
			  ItemPointerGetBlockNumber(&meta.entryPoint) != HNSW_METAPAGE_BLKNO);
		CHECK(meta.insertPage != HNSW_METAPAGE_BLKNO);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Input		in = {data, size, 0};
	Page		page = malloc(BLCKSZ);
	HnswLayout	layout;
	uint8_t		mode = Byte(&in);
	uint8_t		flags;
	int			dim;

	/* a layout as a checked metapage gives it */
	layout.m = HNSW_MIN_M + Byte(&in) % (HNSW_MAX_M - HNSW_MIN_M + 1);
	dim = Byte(&in);
	dim |= Byte(&in) << 8;
	layout.quantization = Byte(&in) % (HNSW_QUANT_MAX + 1);
	flags = Byte(&in);
	layout.outOfLine = (flags & 1) != 0;
	dim = (flags & 4) ? 0 : 1 + dim % VECTOR_MAX_DIM;
	while (dim > 1 &&
		   HNSW_ELEMENT_TUPLE_SIZE(dim, layout.quantization, 0, layout.m) +
		   HNSW_VECTOR_LINK_SIZE > HNSW_MAX_TUPLE_SIZE)
		dim /= 2;
	layout.dim = dim;
	HnswLayoutDerive(&layout);
	if (HNSW_ELEMENT_TUPLE_SIZE(1, layout.quantization, 0, layout.m) +
		HNSW_VECTOR_LINK_SIZE > HNSW_MAX_TUPLE_SIZE)
	{
		free(page);
		return 0;
	}

	if (mode % 3 == 0)
	{
		/* raw bytes */
		size_t		n = Min(in.size - in.pos, (size_t) BLCKSZ);

		memset(page, 0, BLCKSZ);
		memcpy(page, in.data + in.pos, n);
	}
	else
	{
		/* a sound page, then patches: position (2 bytes), length, bytes */
		if (mode % 3 == 1)
			FormElementPage(&layout, page, &in);
		else
			FormMetaPage(&layout, page, &in);
		while (in.pos < in.size)
		{
			size_t		pos = Byte(&in);
			size_t		n;

			pos |= (size_t) Byte(&in) << 8;
			pos %= BLCKSZ;
			n = 1 + Byte(&in) % 8;
			for (size_t i = 0; i < n && pos + i < BLCKSZ; i++)
				((uint8_t *) page)[pos + i] = Byte(&in);
		}
	}

	CheckPage(&layout, page);
	free(page);
	return 0;
}
