/* SPDX-License-Identifier: MIT */
/*
 * corio.h - the umbrella header: includes every public corio header.
 * Build with `pkg-config --cflags --libs corio`.
 */
#ifndef CORIO_H
#define CORIO_H

#include <corio/runtime.h>
#include <corio/sync.h>
#include <corio/io.h>
#include <corio/net.h>
#include <corio/dns.h>
#include <corio/http.h>
#include <corio/tls.h>

#endif
