// Command modapp is the program in the scan gate's test image: it links golang.org/x/mod, the
// module the fixture vulnerability database marks as vulnerable.
package main

import (
	"fmt"
	"os"

	"golang.org/x/mod/semver"
)

func main() {
	for _, v := range os.Args[1:] {
		fmt.Println(v, semver.IsValid(v))
	}
}
