/*
 * The models a client may ask for, as GET /v1/models lists them: fixed
 * tables, so the list does not change between calls and costs no request
 * upstream. Anthropic's clients get Anthropic's shape, the others
 * OpenAI's; both are printed from the same tables.
 */
#include <stdio.h>
#include <time.h>

#include "models.h"
#include "timefmt.h"

static const struct {
	const char *id, *name, *created;
} claude[] = {
	{ "claude-opus-4-5-20251101", "Claude Opus 4.5",
	    "2025-11-01T00:00:00Z" },
	{ "claude-sonnet-4-5-20250929", "Claude Sonnet 4.5",
	    "2025-09-29T00:00:00Z" },
	{ "claude-haiku-4-5-20251001", "Claude Haiku 4.5",
	    "2025-10-01T00:00:00Z" },
	{ "claude-opus-4-1-20250805", "Claude Opus 4.1",
	    "2025-08-05T00:00:00Z" },
	{ "claude-opus-4-20250514", "Claude Opus 4", "2025-05-22T00:00:00Z" },
	{ "claude-sonnet-4-20250514", "Claude Sonnet 4",
	    "2025-05-22T00:00:00Z" },
	{ "claude-3-7-sonnet-20250219", "Claude Sonnet 3.7",
	    "2025-02-24T00:00:00Z" },
	{ "claude-3-5-haiku-20241022", "Claude Haiku 3.5",
	    "2024-10-22T00:00:00Z" },
};
#define NCLAUDE (sizeof claude / sizeof claude[0])

/* The base models, and the suffixed names of the guide's droid config
 * with their siblings (-minimal is gpt-5's only: the codex models have no
 * minimal effort). */
static const char *const codex[] = {
	"gpt-5", "gpt-5-minimal", "gpt-5-low", "gpt-5-medium", "gpt-5-high",
	"gpt-5-codex", "gpt-5-codex-low", "gpt-5-codex-medium",
	"gpt-5-codex-high", "gpt-5.1", "gpt-5.1-codex", "gpt-5.1-codex-mini",
	"gpt-5.1-codex-max",
};
#define NCODEX (sizeof codex / sizeof codex[0])

/* 2025-08-07, GPT-5's release, as every Codex model's date. */
#define CODEX_CREATED 1754524800LL

int
models_anthropic(struct buf *out)
{
	size_t i;

	if (buf_adds(out, "{\"data\":[") == -1)
		return -1;
	for (i = 0; i < NCLAUDE; i++)
		if (buf_addf(out, "%s{\"type\":\"model\",\"id\":\"%s\","
		    "\"display_name\":\"%s\",\"created_at\":\"%s\"}",
		    i ? "," : "", claude[i].id, claude[i].name,
		    claude[i].created) == -1)
			return -1;
	return buf_addf(out, "],\"has_more\":false,\"first_id\":\"%s\","
	    "\"last_id\":\"%s\"}", claude[0].id, claude[NCLAUDE - 1].id);
}

/* One entry of OpenAI's list. */
static int
openai_entry(struct buf *out, int first, const char *id, long long created,
    const char *owner)
{
	return buf_addf(out, "%s{\"id\":\"%s\",\"object\":\"model\","
	    "\"created\":%lld,\"owned_by\":\"%s\"}", first ? "" : ",", id,
	    created, owner);
}

int
models_openai(int with_claude, int with_codex, struct buf *out)
{
	size_t i;
	int first = 1;

	if (buf_adds(out, "{\"object\":\"list\",\"data\":[") == -1)
		return -1;
	for (i = 0; with_claude && i < NCLAUDE; i++, first = 0)
		if (openai_entry(out, first, claude[i].id,
		    (long long)timefmt_parse(claude[i].created),
		    "anthropic") == -1)
			return -1;
	for (i = 0; with_codex && i < NCODEX; i++, first = 0)
		if (openai_entry(out, first, codex[i], CODEX_CREATED,
		    "openai") == -1)
			return -1;
	return buf_adds(out, "]}");
}
