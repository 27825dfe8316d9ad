// Checks of the index's config and tokenizer, shared by the reader (on open) and the writer (before
// it publishes), so a file the writer accepts is a file the reader opens.
#pragma once

#include "ingot/format/constants.h"
#include "ingot/format/status.h"

namespace ingot::format::detail {

// Ids inside the vocabulary, head counts that divide, list lengths that agree, known enum values.
Status check_model_fields(const fb::Index& index);

}  // namespace ingot::format::detail
