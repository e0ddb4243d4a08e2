// Command cgo is a dynamically linked binary: it needs libc and the program loader, as any
// binary built with cgo does, and so does not start in an empty root.
package main

// #include <stdio.h>
// static void hi(void) { puts("hi"); }
import "C"

func main() { C.hi() }
