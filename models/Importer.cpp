#include "models/Importer.h"
