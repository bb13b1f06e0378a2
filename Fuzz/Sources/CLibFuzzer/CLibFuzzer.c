// Nothing to compile: the driver is in the libFuzzer runtime linked with -sanitize=fuzzer.
#include "CLibFuzzer.h"
