package main

// Three poems in the public domain, served when no -poem file is given.
var poems = []string{
	`Tyger Tyger, burning bright,
In the forests of the night;
What immortal hand or eye,
Could frame thy fearful symmetry?
`,
	`Hope is the thing with feathers
That perches in the soul,
And sings the tune without the words,
And never stops at all,
`,
	`Some say the world will end in fire,
Some say in ice.
From what I've tasted of desire
I hold with those who favor fire.
`,
}
