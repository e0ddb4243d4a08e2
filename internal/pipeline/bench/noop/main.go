// Command noop exits at once: the start case's limit, a static program in an image FROM
// scratch, whose start costs what the container engine itself costs.
package main

func main() {}
