// The C interface of libbt_sentencepiece.so, the only code that links SentencePiece.
//
// Why a separate library, loaded with dlopen(RTLD_LOCAL | RTLD_DEEPBIND): Debian's libsentencepiece carries its own
// copy of protobuf-lite and exports its symbols. Linked into a process that also has libprotobuf (gRPC: both
// daemons), the two copies interpose on each other and the process crashes before main() while protobuf registers
// its descriptors. Loaded locally and deep-bound, SentencePiece resolves to its own copy and nothing else sees it.
// (Its headers also declare their own `absl::string_view`, which clashes with Abseil's.)
//
// Every function returns 0 on success; on failure a message the caller frees with bt_sp_free.
#pragma once

#include <cstddef>

extern "C" {

// A processor from a serialized model; *handle is released with bt_sp_release.
char* bt_sp_load(const char* data, size_t size, void** handle);
void bt_sp_release(void* handle);
// *ids (int32, *count of them) is freed with bt_sp_free.
char* bt_sp_encode(void* handle, const char* text, size_t size, int** ids, size_t* count);
// *text (*size bytes) is freed with bt_sp_free.
char* bt_sp_decode(void* handle, const int* ids, size_t count, char** text, size_t* size);
int bt_sp_piece_size(void* handle);
int bt_sp_eos_id(void* handle);
// Trains on `count` sentences in order (each split into pieces of at most `max_length` bytes at UTF-8 boundaries);
// *model (*model_size bytes, serialized) is freed with bt_sp_free.
char* bt_sp_train(const char* args, const char* const* sentences, const size_t* lengths, size_t count,
                  size_t max_length, char** model, size_t* model_size);
void bt_sp_free(void* buffer);

}  // extern "C"
